"""pydantic field types and the base model of the decoders' params (no torch: params are
validated before anything is built).

Numbers are strict: integer fields take integers only (not ``true``, ``"3"`` or ``3.0``), float
fields numbers (not booleans or strings), flags booleans. Channel counts and dilation rates are
bounded far above any real decoder and below what PyTorch cannot allocate, so a
``decoder_channels`` of ``2**40`` is a located spec error, not a crash while building.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool

from ._norm_options import NormOption

__all__ = [
    "MAX_CHANNELS", "MAX_DILATION", "NormOption", "InterpolationMode", "AttentionType", "Channels", "ChannelList",
    "DilationRate", "Dropout", "Flag", "DecoderParams",
]

MAX_CHANNELS = 2**14
"""Largest channel count of a decoder layer (a 3x3 convolution of 16384 to 16384 channels
already holds 2.4 billion weights)."""
MAX_DILATION = 256
"""Largest dilation rate of an atrous convolution (DeepLab uses up to 36, 72 at output stride 8)."""

InterpolationMode = Annotated[
    Literal["nearest", "bilinear", "bicubic", "area", "nearest-exact"],
    Field(description="torch.nn.functional.interpolate mode used to upsample in the decoder."),
]
AttentionType = Annotated[
    Literal["scse"] | None,
    Field(description="Attention in the decoder blocks: null (none) or 'scse'."),
]
Dropout = Annotated[float, Field(strict=True, ge=0.0, lt=1.0, description="Dropout probability, in [0, 1).")]
Channels = Annotated[int, Field(strict=True, gt=0, le=MAX_CHANNELS)]
"""A channel count: an integer from 1 to :data:`MAX_CHANNELS`."""
DilationRate = Annotated[int, Field(strict=True, gt=0, le=MAX_DILATION)]
Flag = StrictBool


def _check_channel_list(value: tuple[int, ...]) -> tuple[int, ...]:
    if not value:
        raise ValueError("needs at least one entry (one channel count per decoder block)")
    return value


ChannelList = Annotated[
    tuple[Channels, ...],
    AfterValidator(_check_channel_list),
    Field(description="Output channels of each decoder block, deepest block first; one per block."),
]


class DecoderParams(BaseModel):
    """Base of the decoders' params models: unknown keys are errors, values are checked on assignment."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)
