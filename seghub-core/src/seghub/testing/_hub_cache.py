"""A Hugging Face cache built by hand, for offline tests of weight loading."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


def write_hub_file(
    cache_dir: str | Path,
    repo_id: str,
    revision: str,
    filename: str,
    tensors: Mapping[str, torch.Tensor] | bytes,
) -> Path:
    """Write ``filename`` of model repo ``repo_id`` at commit ``revision`` into ``cache_dir``.

    ``tensors`` are saved as safetensors; raw ``bytes`` are written as they are (for corrupt or
    truncated files). Returns the file's path in the snapshot folder.
    """
    repo_dir = Path(cache_dir) / ("models--" + repo_id.replace("/", "--"))
    snapshot = repo_dir / "snapshots" / revision
    target = snapshot / filename
    target.parent.mkdir(parents=True, exist_ok=True)
    (repo_dir / "refs").mkdir(parents=True, exist_ok=True)
    (repo_dir / "refs" / "main").write_text(revision)
    if isinstance(tensors, bytes):
        target.write_bytes(tensors)
    else:
        from safetensors.torch import save_file

        save_file({k: v.contiguous() for k, v in tensors.items()}, str(target))
    return target


def write_hub_folder(
    cache_dir: str | Path,
    repo_id: str,
    revision: str,
    folder: str | Path,
    *,
    ref: str | None = "main",
) -> Path:
    """Put every file of ``folder`` (a ``save_pretrained`` folder, say) into the snapshot of
    model repo ``repo_id`` at commit ``revision``; ``ref`` (a branch or tag name, or None) is
    pointed at that commit. Returns the snapshot folder."""
    source = Path(folder)
    repo_dir = Path(cache_dir) / ("models--" + repo_id.replace("/", "--"))
    snapshot = repo_dir / "snapshots" / revision
    for path in sorted(source.rglob("*")):
        if path.is_file():
            target = snapshot / path.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())
    snapshot.mkdir(parents=True, exist_ok=True)
    if ref is not None:
        (repo_dir / "refs" / ref).parent.mkdir(parents=True, exist_ok=True)
        (repo_dir / "refs" / ref).write_text(revision)
    return snapshot


@contextlib.contextmanager
def offline_hub_cache(cache_dir: str | Path) -> Iterator[Path]:
    """Point ``huggingface_hub`` at ``cache_dir`` in offline mode for the duration of the block."""
    from huggingface_hub import constants

    saved = constants.HF_HUB_CACHE, constants.HF_HUB_OFFLINE
    constants.HF_HUB_CACHE, constants.HF_HUB_OFFLINE = str(cache_dir), True
    try:
        yield Path(cache_dir)
    finally:
        constants.HF_HUB_CACHE, constants.HF_HUB_OFFLINE = saved
