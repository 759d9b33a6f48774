"""``seghub.MAnet``: smp 0.6's constructor, building an MA-Net through a spec."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .._smp_model import ActivationArg, NormArg, smp_model

if TYPE_CHECKING:
    from seghub import SegmentationModel

__all__ = ["MAnet"]


def MAnet(
    encoder_name: str = "resnet34",
    *,
    encoder_depth: int = 5,
    encoder_weights: str | None = "imagenet",
    decoder_use_norm: NormArg = "batchnorm",
    decoder_channels: Sequence[int] = (256, 128, 64, 32, 16),
    decoder_pab_channels: int = 64,
    decoder_interpolation: str = "nearest",
    in_channels: int = 3,
    classes: int = 1,
    activation: ActivationArg = None,
    aux_params: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> SegmentationModel:
    """MA-Net: a U-Net-like decoder with position-wise attention on the deepest feature and
    multi-scale fusion attention at each skip. Extra keyword arguments go to the encoder."""
    return smp_model("manet", locals(), renamed={"decoder_use_batchnorm": "decoder_use_norm"})
