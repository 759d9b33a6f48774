"""Where a saved model's files are: a local folder, or a Hub repo (downloaded or cached)."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

from .._huggingface import hub_file
from ..errors import WeightsError

__all__ = ["resolve_files"]

_COMMIT_HASH = re.compile(r"^[0-9a-f]{40}$")


def resolve_files(
    source: str | os.PathLike[str],
    filenames: Sequence[str],
    *,
    revision: str | None = None,
    token: str | bool | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    local_files_only: bool = False,
) -> dict[str, Path]:
    """Paths of ``filenames`` in a local folder, or in Hub repo ``source`` at ``revision``
    (downloaded, or from the cache offline). Every file comes from the same commit."""
    folder = Path(source).expanduser()
    if folder.is_dir():
        if revision is not None:
            raise ValueError(f"revision={revision!r} applies to Hub repos; {str(folder)!r} is a local folder")
        paths = {name: folder / name for name in filenames}
        missing = [name for name, path in paths.items() if not path.is_file()]
        if missing:
            raise WeightsError(f"folder {str(folder)!r} has no {', '.join(missing)}; is it a save_pretrained folder?")
        return paths
    repo_id = os.fspath(source)
    if isinstance(source, os.PathLike) or repo_id.startswith((".", "/", "~")) or os.path.isabs(repo_id):
        raise WeightsError(f"folder {repo_id!r} does not exist")
    paths = {}
    pinned = revision
    for name in filenames:
        path = hub_file(
            repo_id, name, revision=pinned, token=token, cache_dir=cache_dir, local_files_only=local_files_only
        )
        if _COMMIT_HASH.match(path.parent.name):  # later files from the commit the first came from
            pinned = path.parent.name
        paths[name] = path
    return paths
