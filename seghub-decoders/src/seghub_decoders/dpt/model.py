"""``seghub.DPT``: smp 0.6's constructor, building a Dense Prediction Transformer through a spec."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .._smp_model import ActivationArg, smp_model

if TYPE_CHECKING:
    from seghub import SegmentationModel

__all__ = ["DPT"]


def DPT(
    encoder_name: str = "tu-vit_base_patch16_224.augreg_in21k",
    *,
    encoder_depth: int = 4,
    encoder_weights: str | None = "imagenet",
    encoder_output_indices: Sequence[int] | None = None,
    decoder_readout: str = "cat",
    decoder_intermediate_channels: Sequence[int] = (256, 512, 1024, 1024),
    decoder_fusion_channels: int = 256,
    in_channels: int = 3,
    classes: int = 1,
    activation: ActivationArg = None,
    aux_params: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> SegmentationModel:
    """DPT: reassembles a ViT's intermediate tokens into a pyramid and fuses it.

    ``encoder_output_indices`` picks the ViT blocks whose outputs become the features (the
    encoder's ``output_indices``). Extra keyword arguments go to the encoder.
    """
    arguments = dict(locals())
    indices = arguments.pop("encoder_output_indices")
    extra = {} if indices is None else {"output_indices": list(indices)}
    return smp_model("dpt", arguments, encoder_params=extra)
