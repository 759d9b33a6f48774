"""``seghub.Linknet``: smp 0.6's constructor, building a LinkNet through a spec."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .._smp_model import ActivationArg, NormArg, smp_model

if TYPE_CHECKING:
    from seghub import SegmentationModel

__all__ = ["Linknet"]


def Linknet(
    encoder_name: str = "resnet34",
    *,
    encoder_depth: int = 5,
    encoder_weights: str | None = "imagenet",
    decoder_use_norm: NormArg = "batchnorm",
    in_channels: int = 3,
    classes: int = 1,
    activation: ActivationArg = None,
    aux_params: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> SegmentationModel:
    """LinkNet: a light decoder that adds (not concatenates) encoder skips. Needs each feature at
    twice the reduction of the one before (no dilated encoders). Extra keyword arguments go to
    the encoder."""
    return smp_model("linknet", locals(), renamed={"decoder_use_batchnorm": "decoder_use_norm"})
