"""Files from the Hugging Face Hub, and the one mapping of its errors to seghub's.

Everything seghub downloads (encoder weights, saved models) comes through :func:`hub_file`,
which works offline from the cache (``HF_HUB_OFFLINE=1``) and turns each way a download can
fail into a :class:`~seghub.errors.WeightsError` that says what was looked for, where, and why.
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import WeightsError

__all__ = ["hub_file", "HubFileError"]


class HubFileError(WeightsError):
    """A file could not be had from the Hub; ``reason`` says why in a few words."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def hub_file(
    repo_id: str,
    filename: str,
    *,
    revision: str | None = None,
    token: str | bool | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    local_files_only: bool = False,
) -> Path:
    """The local path of ``filename`` of model repo ``repo_id`` at ``revision`` (default main):
    from the cache, or downloaded when allowed.

    Raises :class:`HubFileError` naming the file, repo, revision and the reason.
    """
    from huggingface_hub import hf_hub_download

    try:
        path = hf_hub_download(
            repo_id, filename, revision=revision, token=token, cache_dir=cache_dir, local_files_only=local_files_only
        )
    except Exception as exc:  # not found, offline, invalid id, network: each is "not to be had", with a reason
        reason = _reason(exc)
        where = f"{filename!r} of Hugging Face repo {repo_id!r} at revision {revision or 'main'!r}"
        raise HubFileError(f"could not get {where}: {reason}", reason) from exc
    return Path(path)


def _reason(exc: Exception) -> str:
    from huggingface_hub import constants
    from huggingface_hub.errors import (
        EntryNotFoundError,
        HFValidationError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    if isinstance(exc, HFValidationError):
        return f"not a valid Hub repo id ({exc})"
    if isinstance(exc, LocalEntryNotFoundError):  # before its base class, EntryNotFoundError
        why = "offline mode (HF_HUB_OFFLINE)" if constants.is_offline_mode() else str(exc).splitlines()[0]
        return f"not in the cache ({constants.HF_HUB_CACHE}) and not downloadable: {why}"
    if isinstance(exc, (RepositoryNotFoundError, RevisionNotFoundError, EntryNotFoundError)):
        return "it does not exist there (or is private: pass token=...)"
    if constants.is_offline_mode():
        return f"not in the cache ({constants.HF_HUB_CACHE}) and not downloadable: offline mode (HF_HUB_OFFLINE)"
    return f"not in the cache ({constants.HF_HUB_CACHE}) and not downloadable: {type(exc).__name__}: {exc}"
