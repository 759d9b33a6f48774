"""``seghub.UnetPlusPlus``: smp 0.6's constructor, building a U-Net++ through a spec."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .._smp_model import ActivationArg, NormArg, smp_model

if TYPE_CHECKING:
    from seghub import SegmentationModel

__all__ = ["UnetPlusPlus"]


def UnetPlusPlus(
    encoder_name: str = "resnet34",
    *,
    encoder_depth: int = 5,
    encoder_weights: str | None = "imagenet",
    decoder_use_norm: NormArg = "batchnorm",
    decoder_channels: Sequence[int] = (256, 128, 64, 32, 16),
    decoder_attention_type: str | None = None,
    decoder_interpolation: str = "nearest",
    in_channels: int = 3,
    classes: int = 1,
    activation: ActivationArg = None,
    aux_params: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> SegmentationModel:
    """U-Net++: U-Net with nested, densely connected skip pathways.

    ``decoder_channels`` gives the top-row block widths, deepest first (the default is cut to
    ``encoder_depth`` entries). Extra keyword arguments go to the encoder.
    """
    return smp_model("unetplusplus", locals(), renamed={"decoder_use_batchnorm": "decoder_use_norm"})
