"""U-Net++'s params (smp 0.6 ``UnetPlusPlus`` names and defaults)."""

from __future__ import annotations

from .._params import AttentionType, InterpolationMode
from ..unet.params import BlockChannelsParams

__all__ = ["UnetPlusPlusParams"]


class UnetPlusPlusParams(BlockChannelsParams):
    """Options of the U-Net++ decoder (smp 0.6 ``UnetPlusPlus`` names and defaults)."""

    decoder_attention_type: AttentionType = None
    decoder_interpolation: InterpolationMode = "nearest"
