"""``seghub.UPerNet``: smp 0.6's constructor, building a UPerNet through a spec."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .._smp_model import ActivationArg, NormArg, smp_model

if TYPE_CHECKING:
    from seghub import SegmentationModel

__all__ = ["UPerNet"]


def UPerNet(
    encoder_name: str = "resnet34",
    *,
    encoder_depth: int = 5,
    encoder_weights: str | None = "imagenet",
    decoder_channels: int = 256,
    decoder_use_norm: NormArg = "batchnorm",
    in_channels: int = 3,
    classes: int = 1,
    activation: ActivationArg = None,
    upsampling: int | None = None,
    aux_params: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> SegmentationModel:
    """UPerNet: pyramid pooling on the last feature plus an FPN, fused at the finest level used.
    ``upsampling=None`` upsamples by the decoder's output reduction (smp: a fixed 4). Extra
    keyword arguments go to the encoder."""
    return smp_model("upernet", locals())
