"""PSPNet's params (smp 0.6 ``PSPNet`` names and defaults)."""

from __future__ import annotations

from pydantic import Field

from .._params import Channels, DecoderParams, Dropout, NormOption

__all__ = ["PSPNetParams"]


class PSPNetParams(DecoderParams):
    """Options of the PSPNet decoder (smp 0.6 ``PSPNet`` names and defaults).

    smp 0.6 replaced ``psp_use_batchnorm`` with ``decoder_use_norm``; the encoder depth defaults
    to 3 for this decoder (its registered encoder defaults), as in smp.
    """

    decoder_use_norm: NormOption = "batchnorm"
    psp_out_channels: Channels = Field(default=512, description="Channels of the decoder output.")
    psp_dropout: Dropout = 0.2
