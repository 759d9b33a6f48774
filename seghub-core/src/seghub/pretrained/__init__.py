"""Saving, loading and sharing whole models.

A saved model is a folder, or a Hugging Face Hub model repo, holding

* ``config.json``: ``{"format": 1, "spec": <model.spec>, "requires": [...],
  "weights_sha256": "..."}``: the spec, the distributions (and versions) that provided its
  encoder and decoder plus seghub-core's, and the digest of the weights file
  (:mod:`._config`);
* ``model.safetensors``: the state dict, never a pickle (:mod:`._save`, :mod:`._load`);
* ``README.md``: a model card (:mod:`._card`).

:mod:`._files` finds them in a folder or a Hub repo, :mod:`._push` uploads them, and
:class:`PretrainedMixin` gives the model class its methods.
"""

from __future__ import annotations

from ._card import CardInfo, model_card
from ._config import (
    CARD_NAME,
    CONFIG_NAME,
    WEIGHTS_NAME,
    PretrainedConfig,
    Requirement,
    check_requirements,
    read_config,
    requirements,
    spec_to_json,
)
from ._files import resolve_files
from ._load import build_without_download, load_checked, load_pretrained, with_weights_tag
from ._mixin import PretrainedMixin
from ._push import push_to_hub
from ._save import save_pretrained

__all__ = [
    "CONFIG_NAME",
    "WEIGHTS_NAME",
    "CARD_NAME",
    "CardInfo",
    "PretrainedConfig",
    "Requirement",
    "PretrainedMixin",
    "save_pretrained",
    "load_pretrained",
    "push_to_hub",
    "load_checked",
    "resolve_files",
    "read_config",
    "requirements",
    "check_requirements",
    "spec_to_json",
    "model_card",
    "build_without_download",
    "with_weights_tag",
]
