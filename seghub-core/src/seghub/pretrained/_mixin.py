"""``save_pretrained``, ``push_to_hub`` and ``from_pretrained`` as methods of the model class."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._load import load_pretrained
from ._push import push_to_hub
from ._save import save_pretrained

if TYPE_CHECKING:
    import torch
    from typing_extensions import Self, Unpack

    from ._card import CardInfo

__all__ = ["PretrainedMixin"]


class PretrainedMixin:
    """Saving, sharing and loading for a model class with a ``from_spec`` class method.

    ``from_pretrained`` builds through ``cls.from_spec``, so this module never imports the model
    class it serves.
    """

    def save_pretrained(self, save_directory: str | os.PathLike[str], **card_info: Unpack[CardInfo]) -> Path:
        """Write ``config.json`` (spec and needed plugin distributions), ``model.safetensors``
        and a ``README.md`` model card (``description``, ``dataset``, ``metrics``, ``license``,
        ``tags``) into ``save_directory``; returns it."""
        return save_pretrained(self, save_directory, **card_info)  # type: ignore[arg-type]

    def push_to_hub(
        self,
        repo_id: str,
        *,
        commit_message: str | None = None,
        private: bool | None = None,
        token: str | bool | None = None,
        revision: str | None = None,
        create_pr: bool = False,
        **card_info: Unpack[CardInfo],
    ) -> Any:
        """Save to a temporary folder and upload it to Hub repo ``repo_id``; ``revision`` names
        the branch (created from main if absent), ``create_pr`` opens a pull request instead.
        Returns huggingface_hub's ``CommitInfo``."""
        return push_to_hub(
            self,  # type: ignore[arg-type]
            repo_id, commit_message=commit_message, private=private, token=token, revision=revision,
            create_pr=create_pr, **card_info,
        )

    @classmethod
    def from_pretrained(
        cls,
        source: str | os.PathLike[str],
        revision: str | None = None,
        *,
        token: str | bool | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        local_files_only: bool = False,
        device: str | torch.device | None = None,
    ) -> Self:
        """Load a model saved with :meth:`save_pretrained` from a folder or a Hub repo id (at
        ``revision``; works offline from the cache with ``HF_HUB_OFFLINE=1``).

        Raises :class:`~seghub.SpecError` (bad, unknown-key or newer config),
        :class:`~seghub.PluginError` (a needed plugin distribution is not installed, with the pip
        command), or :class:`~seghub.WeightsError` (files not to be had, corrupt or tampered
        weights, weights that do not fit), and in each case returns no model. The model comes
        back in eval mode.
        """
        return load_pretrained(
            source, build=cls.from_spec, revision=revision, token=token, cache_dir=cache_dir,  # type: ignore[attr-defined]
            local_files_only=local_files_only, device=device,
        )
