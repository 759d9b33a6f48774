"""pydantic field types and the base model of the decoders' params (no torch: params are
validated before anything is built)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PositiveInt

from ._norm_options import NormOption

__all__ = [
    "NormOption", "InterpolationMode", "AttentionType", "ChannelList", "Dropout", "StrictPositiveInt", "DecoderParams",
]

InterpolationMode = Annotated[
    Literal["nearest", "bilinear", "bicubic", "area", "nearest-exact"],
    Field(description="torch.nn.functional.interpolate mode used to upsample in the decoder."),
]
AttentionType = Annotated[
    Literal["scse"] | None,
    Field(description="Attention in the decoder blocks: null (none) or 'scse'."),
]
Dropout = Annotated[float, Field(ge=0.0, lt=1.0, description="Dropout probability, in [0, 1).")]


def _check_channel_list(value: tuple[int, ...]) -> tuple[int, ...]:
    if not value:
        raise ValueError("needs at least one entry (one channel count per decoder block)")
    return value


ChannelList = Annotated[
    tuple[PositiveInt, ...],
    AfterValidator(_check_channel_list),
    Field(description="Output channels of each decoder block, deepest block first; one per block."),
]


class DecoderParams(BaseModel):
    """Base of the decoders' params models: unknown keys are errors, values are checked on assignment."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

StrictPositiveInt = Annotated[int, Field(strict=True, gt=0)]
"""A positive int; bools and strings are refused."""
