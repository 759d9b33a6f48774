"""MA-Net's params (smp 0.6 ``MAnet`` names and defaults)."""

from __future__ import annotations

from pydantic import Field

from .._params import Channels, InterpolationMode
from ..unet.params import BlockChannelsParams

__all__ = ["MAnetParams"]


class MAnetParams(BlockChannelsParams):
    """Options of the MA-Net decoder (smp 0.6 ``MAnet`` names and defaults)."""

    decoder_pab_channels: Channels = Field(
        default=64, description="Channels of the query/key projections in the position attention block."
    )
    decoder_interpolation: InterpolationMode = "nearest"
