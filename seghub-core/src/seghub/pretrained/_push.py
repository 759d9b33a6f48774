"""Sharing a model: upload its saved folder to a Hugging Face Hub model repo."""

from __future__ import annotations

import tempfile
from typing import TYPE_CHECKING, Any

from ._card import check_card_info
from ._save import save_pretrained

if TYPE_CHECKING:
    from torch import nn

__all__ = ["push_to_hub"]


def push_to_hub(
    model: nn.Module,
    repo_id: str,
    *,
    commit_message: str | None = None,
    private: bool | None = None,
    token: str | bool | None = None,
    revision: str | None = None,
    create_pr: bool = False,
    **card_info: Any,
) -> Any:
    """Upload the :func:`save_pretrained` folder to Hub repo ``repo_id`` (created if needed).

    ``revision`` names the branch to commit to (created from main if absent); ``create_pr``
    opens a pull request instead. Returns huggingface_hub's ``CommitInfo``.
    """
    check_card_info(card_info)
    from huggingface_hub import HfApi

    api = HfApi()
    repo_id = api.create_repo(repo_id, token=token, private=private, repo_type="model", exist_ok=True).repo_id
    if revision is not None and revision != "main" and not create_pr:
        api.create_branch(repo_id, branch=revision, token=token, repo_type="model", exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="seghub-push-") as folder:
        save_pretrained(model, folder, repo_id=repo_id, **card_info)
        return api.upload_folder(
            repo_id=repo_id,
            folder_path=folder,
            commit_message=commit_message or "Upload seghub model",
            token=token,
            repo_type="model",
            revision=revision,
            create_pr=create_pr,
        )
