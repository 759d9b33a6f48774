"""LinkNet's params (smp 0.6 ``Linknet`` names and defaults)."""

from __future__ import annotations

from .._params import DecoderParams, NormOption

__all__ = ["LinknetParams"]


class LinknetParams(DecoderParams):
    """Options of the LinkNet decoder (smp 0.6 ``Linknet`` names and defaults)."""

    decoder_use_norm: NormOption = "batchnorm"
