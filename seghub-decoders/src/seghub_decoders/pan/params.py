"""PAN's params (smp 0.6 ``PAN`` names and defaults)."""

from __future__ import annotations

from pydantic import Field

from .._params import Channels, DecoderParams, InterpolationMode

__all__ = ["PANParams"]


class PANParams(DecoderParams):
    """Options of the PAN decoder (smp's names and defaults)."""

    decoder_channels: Channels = Field(32, description="Channels of the FPA and GAU blocks and of the output.")
    decoder_interpolation: InterpolationMode = "bilinear"
