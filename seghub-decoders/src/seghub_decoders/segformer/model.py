"""``seghub.Segformer``: smp 0.6's constructor, building a SegFormer decoder model through a spec."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .._smp_model import ActivationArg, smp_model

if TYPE_CHECKING:
    from seghub import SegmentationModel

__all__ = ["Segformer"]


def Segformer(
    encoder_name: str = "resnet34",
    *,
    encoder_depth: int = 5,
    encoder_weights: str | None = "imagenet",
    decoder_segmentation_channels: int = 256,
    in_channels: int = 3,
    classes: int = 1,
    activation: ActivationArg = None,
    upsampling: int | None = None,
    aux_params: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> SegmentationModel:
    """SegFormer's all-MLP decoder: project every scale, upsample to reduction 4, fuse.
    ``upsampling=None`` upsamples by the decoder's output reduction (smp: a fixed 4). Extra
    keyword arguments go to the encoder."""
    return smp_model("segformer", locals())
