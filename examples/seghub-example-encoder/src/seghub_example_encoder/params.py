"""The params models seghub validates ``encoder.params`` and ``decoder.params`` with (no torch)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["MobileNetLiteParams", "SkipAddParams"]


class MobileNetLiteParams(BaseModel):
    """``encoder.params`` of ``mobilenet_lite``."""

    model_config = ConfigDict(extra="forbid")

    width_multiplier: float = Field(1.0, gt=0, le=4, description="Scales every stage's channels (rounded to 8).")


class SkipAddParams(BaseModel):
    """``decoder.params`` of ``skipadd``."""

    model_config = ConfigDict(extra="forbid")

    decoder_channels: int = Field(64, gt=0, description="Channels of every lateral and of the output.")
