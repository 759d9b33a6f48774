"""``seghub.PAN``: smp 0.6's constructor, building a Pyramid Attention Network through a spec."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .._smp_model import ActivationArg, smp_model

if TYPE_CHECKING:
    from seghub import SegmentationModel

__all__ = ["PAN"]


def PAN(
    encoder_name: str = "resnet34",
    *,
    encoder_depth: int = 5,
    encoder_weights: str | None = "imagenet",
    encoder_output_stride: int = 16,
    decoder_channels: int = 32,
    decoder_interpolation: str = "bilinear",
    in_channels: int = 3,
    classes: int = 1,
    activation: ActivationArg = None,
    upsampling: int | None = None,
    aux_params: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> SegmentationModel:
    """Pyramid Attention Network: feature pyramid attention plus global attention upsampling.

    Its coarsest feature map must be at least 8x8, so inputs need 8 times the output stride per
    side. ``upscale_mode`` is smp's deprecated spelling of ``decoder_interpolation``. Extra
    keyword arguments go to the encoder.
    """
    return smp_model("pan", locals(), renamed={"upscale_mode": "decoder_interpolation"})
