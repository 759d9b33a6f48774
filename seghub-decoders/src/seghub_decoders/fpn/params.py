"""FPN's params (smp 0.6 ``FPN`` names and defaults)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator

from .._params import Channels, DecoderParams, Dropout, InterpolationMode

__all__ = ["GN_GROUPS", "FPNParams"]

GN_GROUPS = 32
"""Groups of the GroupNorm in the segmentation branches (fixed, as in smp)."""


class FPNParams(DecoderParams):
    """Options of the FPN decoder (smp 0.6 ``FPN`` names and defaults)."""

    decoder_pyramid_channels: Channels = Field(default=256, description="Channels of the pyramid maps P2-P5.")
    decoder_segmentation_channels: Annotated[
        Channels,
        Field(description="Channels of each segmentation branch; a multiple of 32 (GroupNorm with 32 groups)."),
    ] = 128
    decoder_merge_policy: Literal["add", "cat"] = Field(
        default="add",
        description="How the four branches merge: 'add' (out = segmentation channels) or 'cat' (4x).",
    )
    decoder_dropout: Dropout = 0.2
    decoder_interpolation: InterpolationMode = Field(
        default="nearest", description="Upsampling mode of the top-down pathway."
    )

    @field_validator("decoder_segmentation_channels")
    @classmethod
    def _multiple_of_groups(cls, value: int) -> int:
        if value % GN_GROUPS:
            raise ValueError(f"must be a multiple of {GN_GROUPS} (GroupNorm with {GN_GROUPS} groups), got {value}")
        return value
