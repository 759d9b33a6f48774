"""SegFormer's params (smp 0.6 ``Segformer`` names and defaults)."""

from __future__ import annotations

from pydantic import Field

from .._params import Channels, DecoderParams

__all__ = ["SegformerParams"]


class SegformerParams(DecoderParams):
    """Options of the SegFormer decoder (smp's names and defaults)."""

    decoder_segmentation_channels: Channels = Field(
        256, description="Channels of each per-feature MLP and of the fused output."
    )
