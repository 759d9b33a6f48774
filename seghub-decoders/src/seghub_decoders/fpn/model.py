"""``seghub.FPN``: smp 0.6's constructor, building a Feature Pyramid Network through a spec."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .._smp_model import ActivationArg, smp_model

if TYPE_CHECKING:
    from seghub import SegmentationModel

__all__ = ["FPN"]


def FPN(
    encoder_name: str = "resnet34",
    *,
    encoder_depth: int = 5,
    encoder_weights: str | None = "imagenet",
    decoder_pyramid_channels: int = 256,
    decoder_segmentation_channels: int = 128,
    decoder_merge_policy: str = "add",
    decoder_dropout: float = 0.2,
    decoder_interpolation: str = "nearest",
    in_channels: int = 3,
    classes: int = 1,
    activation: ActivationArg = None,
    upsampling: int | None = None,
    aux_params: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> SegmentationModel:
    """Feature Pyramid Network: a top-down pyramid, per-level segmentation branches, merged.

    ``upsampling=None`` upsamples by the decoder's output reduction (smp: a fixed 4), so masks
    come out at input size at any depth. Extra keyword arguments go to the encoder.
    """
    return smp_model("fpn", locals())
