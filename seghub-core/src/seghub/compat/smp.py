"""Import segmentation_models_pytorch (smp) checkpoints into seghub models.

seghub's resnet encoders, decoders and heads use smp 0.6's module names, so most smp state
dicts load as they are. Where a plugin's layout differs, its modules say how to convert:

* ``decoder.smp_model_state_dict_to_seghub(state_dict)`` rewrites whole-model keys first (for
  decoders that own part of what smp calls the head, like DPT);
* then ``encoder.smp_state_dict_to_seghub`` / ``decoder.smp_state_dict_to_seghub`` rewrite keys
  relative to their module.

smp itself is never imported.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

    from .._model import SegmentationModel

__all__ = ["convert_state_dict", "load_smp_state_dict"]

_PARTS = ("encoder", "decoder", "segmentation_head", "classification_head")


def convert_state_dict(model: SegmentationModel, state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename an smp model's state dict into ``model``'s layout (tensors are not copied)."""
    whole_model = getattr(model.decoder, "smp_model_state_dict_to_seghub", None)
    if whole_model is not None:
        state_dict = whole_model(dict(state_dict))
    converted: dict[str, torch.Tensor] = {}
    for part in _PARTS:
        prefix = part + "."
        section = {k[len(prefix):]: v for k, v in state_dict.items() if k.startswith(prefix)}
        module = getattr(model, part, None)
        convert = getattr(module, "smp_state_dict_to_seghub", None)
        if section and convert is not None:
            section = convert(section)
        converted.update({prefix + k: v for k, v in section.items()})
    converted.update({k: v for k, v in state_dict.items() if not k.startswith(tuple(p + "." for p in _PARTS))})
    return converted


def load_smp_state_dict(model: SegmentationModel, state_dict: Mapping[str, torch.Tensor], *, strict: bool = True) -> None:
    """Load an smp model's state dict into the equivalent seghub model.

    Raises ``RuntimeError`` (from ``load_state_dict``) naming missing, unexpected or mis-shaped
    keys when the models do not correspond.
    """
    model.load_state_dict(convert_state_dict(model, state_dict), strict=strict)
