"""``seghub.DeepLabV3`` and ``seghub.DeepLabV3Plus``: smp 0.6's constructors, building through a spec."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from .._smp_model import ActivationArg, smp_model

if TYPE_CHECKING:
    from seghub import SegmentationModel

__all__ = ["DeepLabV3", "DeepLabV3Plus"]


def DeepLabV3(
    encoder_name: str = "resnet34",
    *,
    encoder_depth: int = 5,
    encoder_weights: str | None = "imagenet",
    encoder_output_stride: int = 8,
    decoder_channels: int = 256,
    decoder_atrous_rates: Iterable[int] = (12, 24, 36),
    decoder_aspp_separable: bool = False,
    decoder_aspp_dropout: float = 0.5,
    in_channels: int = 3,
    classes: int = 1,
    activation: ActivationArg = None,
    upsampling: int | None = None,
    aux_params: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> SegmentationModel:
    """DeepLabV3: atrous spatial pyramid pooling on a dilated encoder (output stride 8 by
    default; 16 and 32 work too). Extra keyword arguments go to the encoder."""
    return smp_model("deeplabv3", locals())


def DeepLabV3Plus(
    encoder_name: str = "resnet34",
    *,
    encoder_depth: int = 5,
    encoder_weights: str | None = "imagenet",
    encoder_output_stride: int = 16,
    decoder_channels: int = 256,
    decoder_atrous_rates: Iterable[int] = (12, 24, 36),
    decoder_aspp_separable: bool = True,
    decoder_aspp_dropout: float = 0.5,
    in_channels: int = 3,
    classes: int = 1,
    activation: ActivationArg = None,
    upsampling: int | None = None,
    aux_params: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> SegmentationModel:
    """DeepLabV3+: DeepLabV3's ASPP plus a decoder that fuses a high-resolution skip at reduction
    4 (output stride 16 by default). ``upsampling=None`` upsamples by the decoder's output
    reduction (smp: a fixed 4). Extra keyword arguments go to the encoder."""
    return smp_model("deeplabv3plus", locals())
