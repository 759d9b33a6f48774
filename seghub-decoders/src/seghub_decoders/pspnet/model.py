"""``seghub.PSPNet``: smp 0.6's constructor, building a PSPNet through a spec."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .._smp_model import ActivationArg, NormArg, smp_model

if TYPE_CHECKING:
    from seghub import SegmentationModel

__all__ = ["PSPNet"]


def PSPNet(
    encoder_name: str = "resnet34",
    *,
    encoder_weights: str | None = "imagenet",
    encoder_depth: int = 3,
    psp_out_channels: int = 512,
    decoder_use_norm: NormArg = "batchnorm",
    psp_dropout: float = 0.2,
    in_channels: int = 3,
    classes: int = 1,
    activation: ActivationArg = None,
    upsampling: int | None = None,
    aux_params: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> SegmentationModel:
    """PSPNet: pyramid pooling over the last feature of a shallow (depth 3) encoder.

    ``upsampling=None`` upsamples by the decoder's output reduction (smp: a fixed 8).
    ``psp_use_batchnorm`` is smp's deprecated spelling of ``decoder_use_norm``. Extra keyword
    arguments go to the encoder.
    """
    return smp_model("pspnet", locals(), renamed={"psp_use_batchnorm": "decoder_use_norm"})
