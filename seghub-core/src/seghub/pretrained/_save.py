"""Writing a model as a folder: ``config.json``, ``model.safetensors`` and a ``README.md`` card."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import SeghubError, SpecError, SpecIssue
from ._card import check_card_info, model_card
from ._config import CARD_NAME, CONFIG_NAME, WEIGHTS_NAME, PretrainedConfig, requirements, spec_to_json

if TYPE_CHECKING:
    import torch
    from torch import nn

__all__ = ["save_pretrained", "sha256_of"]


def _state_for_saving(model: nn.Module) -> dict[str, torch.Tensor]:
    """The state dict as contiguous CPU tensors; tensors sharing storage are cloned apart
    (safetensors refuses shared memory)."""
    seen: set[tuple[int, int]] = set()
    tensors = {}
    for name, tensor in model.state_dict().items():
        tensor = tensor.detach().cpu().contiguous()
        key = (tensor.untyped_storage().data_ptr(), tensor.storage_offset())
        if key in seen:
            tensor = tensor.clone()
        seen.add(key)
        tensors[name] = tensor
    return tensors


def sha256_of(path: Path) -> str:
    """The hex sha256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _replace(target: Path, write: Any) -> None:
    """Write through a temporary file next to ``target``, then move it into place."""
    tmp = target.with_name(f".{target.name}.tmp")
    try:
        write(tmp)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def save_pretrained(
    model: nn.Module,
    save_directory: str | os.PathLike[str],
    *,
    repo_id: str | None = None,
    **card_info: Any,
) -> Path:
    """Write ``config.json``, ``model.safetensors`` and ``README.md`` of a built model (one with
    a ``spec``) into ``save_directory``.

    ``card_info`` (``description``, ``dataset``, ``metrics``, ``license``, ``tags``) goes into
    the model card; ``repo_id`` only makes its loading example name the repo. Returns the folder.
    """
    check_card_info(card_info)
    spec = getattr(model, "spec", None)
    if spec is None:
        raise SpecError([SpecIssue((), "this model has no spec (it was not built by seghub.build_model); it cannot be saved")])
    data = spec_to_json(spec)
    requires = requirements(spec)

    from safetensors.torch import save_file

    folder = Path(save_directory)
    folder.mkdir(parents=True, exist_ok=True)
    weights = folder / WEIGHTS_NAME
    _replace(weights, lambda tmp: save_file(_state_for_saving(model), str(tmp), metadata={"format": "pt"}))
    config = PretrainedConfig(spec=data, requires=requires, weights_sha256=sha256_of(weights))
    text = json.dumps(config.model_dump(), indent=2) + "\n"
    _replace(folder / CONFIG_NAME, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    try:
        preprocessing = getattr(model, "preprocessing_params", None)
    except SeghubError:  # an unknown tag or a local path: the card just says less
        preprocessing = None
    card = model_card(model, spec, config, card_info, preprocessing=preprocessing, repo_id=repo_id)
    _replace(folder / CARD_NAME, lambda tmp: tmp.write_text(card, encoding="utf-8"))
    return folder
