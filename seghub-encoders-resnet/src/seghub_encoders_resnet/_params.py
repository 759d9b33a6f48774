"""The (empty) ``encoder.params`` model of the ResNet encoders (no torch here)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["ResNetParams"]


class ResNetParams(BaseModel):
    """Encoder params of the ResNet/ResNeXt encoders: none yet, so any key is refused."""

    model_config = ConfigDict(extra="forbid")
