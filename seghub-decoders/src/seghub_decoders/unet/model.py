"""``seghub.Unet``: smp 0.6's constructor, building a U-Net through a spec."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .._smp_model import ActivationArg, NormArg, smp_model

if TYPE_CHECKING:
    from seghub import SegmentationModel

__all__ = ["Unet"]


def Unet(
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
    """U-Net: an encoder-decoder with skip connections concatenated at every scale.

    ``decoder_channels`` gives one width per decoder block, deepest first; the default is cut to
    ``encoder_depth`` entries (smp refuses a shallower encoder with it). Extra keyword arguments
    go to the encoder (``encoder.params``); ``decoder_use_batchnorm`` is smp's deprecated
    spelling of ``decoder_use_norm``.
    """
    return smp_model("unet", locals(), renamed={"decoder_use_batchnorm": "decoder_use_norm"})
