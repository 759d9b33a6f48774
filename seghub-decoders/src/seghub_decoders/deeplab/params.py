"""DeepLabV3's and DeepLabV3+'s params (smp 0.6 names and defaults)."""

from __future__ import annotations

from pydantic import Field

from .._params import Channels, DecoderParams, DilationRate, Dropout, Flag

__all__ = ["DeepLabV3Params", "DeepLabV3PlusParams"]

AtrousRates = tuple[DilationRate, DilationRate, DilationRate]


class DeepLabV3Params(DecoderParams):
    """Options of the DeepLabV3 decoder (smp's names and defaults)."""

    decoder_channels: Channels = Field(256, description="Channels of the ASPP branches and of the output.")
    decoder_atrous_rates: AtrousRates = Field(
        (12, 24, 36), description="Dilation rates of the three atrous ASPP branches."
    )
    decoder_aspp_separable: Flag = Field(
        False, description="Use depthwise-separable convolutions in the atrous ASPP branches."
    )
    decoder_aspp_dropout: Dropout = 0.5


class DeepLabV3PlusParams(DeepLabV3Params):
    """Options of the DeepLabV3+ decoder; as DeepLabV3 but separable ASPP by default."""

    decoder_aspp_separable: Flag = Field(
        True, description="Use depthwise-separable convolutions in the atrous ASPP branches."
    )
