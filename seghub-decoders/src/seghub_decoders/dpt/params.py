"""DPT's params (smp 0.6 ``DPT`` names and defaults)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from .._params import Channels, DecoderParams

__all__ = ["DPTParams", "DEFAULT_INTERMEDIATE_CHANNELS"]

DEFAULT_INTERMEDIATE_CHANNELS: tuple[int, ...] = (256, 512, 1024, 1024)


def _non_empty(value: tuple[int, ...]) -> tuple[int, ...]:
    if not value:
        raise ValueError("needs one entry per encoder feature")
    return value


class DPTParams(DecoderParams):
    """Options of the DPT decoder (smp's names and defaults)."""

    decoder_readout: Literal["ignore", "add", "cat"] = Field(
        "cat",
        description="How the ViT's prefix (class) token enters each feature: 'cat' concatenates the "
        "first one and projects back (linear + GELU), 'add' adds their mean, 'ignore' drops them.",
    )
    decoder_intermediate_channels: Annotated[tuple[Channels, ...], AfterValidator(_non_empty)] = Field(
        DEFAULT_INTERMEDIATE_CHANNELS,
        description=(
            "Channels of each reassembled feature, fine to coarse; one per encoder feature. The default adapts "
            "to encoders with another number of features: feature i gets min(256 * 2**i, 1024)."
        ),
    )
    decoder_fusion_channels: Channels = Field(
        256, description="Channels every feature is projected to before fusion, and of the output."
    )
