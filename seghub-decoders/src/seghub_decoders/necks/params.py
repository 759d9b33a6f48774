"""The necks' params models (no torch: specs are validated before anything is built)."""

from __future__ import annotations

from pydantic import Field

from .._params import Channels, DecoderParams, InterpolationMode

__all__ = ["SimplePyramidParams", "GridResampleParams"]


class SimplePyramidParams(DecoderParams):
    """Options of the ``simple_pyramid`` neck."""

    channels: Channels = Field(256, description="Channels of every pyramid level (ViTDet uses 256).")


class GridResampleParams(DecoderParams):
    """Options of the ``grid_resample`` neck."""

    mode: InterpolationMode = Field(
        "bilinear", description="torch.nn.functional.interpolate mode that resamples each token grid."
    )
