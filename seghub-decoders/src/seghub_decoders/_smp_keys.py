"""Converters from segmentation_models_pytorch 0.6 state dicts to seghub's layout, by decoder.

Most decoders keep smp's module names, so their keys need no change; a decoder whose layout
differs adds its branch to :data:`_CONVERTERS`. Imports no torch.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

__all__ = ["convert_smp_decoder_state_dict"]

_CONVERTERS: dict[str, str] = {
    # decoder name -> "module:function" taking and returning a whole model's state dict
    "dpt": "seghub_decoders.dpt:convert_smp_state_dict",
}


def convert_smp_decoder_state_dict(name: str, state_dict: Mapping[str, Any]) -> dict[str, Any]:
    """An smp model's state dict (model-level keys) in the layout of seghub's ``name`` decoder.

    ``dpt``: smp's ``DPTSegmentationHead`` is split between the decoder's ``head_block`` and
    seghub's generic head (see :func:`seghub_decoders.dpt.convert_smp_state_dict`).
    Decoders without a branch return the keys unchanged.
    """
    ref = _CONVERTERS.get(name.lower())
    if ref is None:
        return dict(state_dict)
    module, _, func = ref.partition(":")
    return getattr(importlib.import_module(module), func)(state_dict)
