"""UPerNet's params (smp 0.6 ``UPerNet`` names and defaults)."""

from __future__ import annotations

from pydantic import Field

from .._params import Channels, DecoderParams, NormOption

__all__ = ["UPerNetParams"]


class UPerNetParams(DecoderParams):
    """Options of the UPerNet decoder (smp's names and defaults)."""

    decoder_channels: Channels = Field(
        256, description="Channels of the pyramid pooling, FPN and fusion blocks, and of the output."
    )
    decoder_use_norm: NormOption = "batchnorm"
