"""The segmentation and classification heads (smp's state-dict layout, so its weights load)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from torch import nn

from ._activations import make_activation

__all__ = ["SegmentationHead", "ClassificationHead"]


class SegmentationHead(nn.Sequential):
    """Conv to ``classes`` channels, optional bilinear upsampling, optional activation."""

    def __init__(
        self,
        in_channels: int,
        classes: int,
        *,
        kernel_size: int = 3,
        upsampling: int = 1,
        activation: str | Callable[..., Any] | None = None,
    ) -> None:
        conv = nn.Conv2d(in_channels, classes, kernel_size=kernel_size, padding=kernel_size // 2)
        upsample = (
            nn.Upsample(scale_factor=upsampling, mode="bilinear", align_corners=True)
            if upsampling > 1
            else nn.Identity()
        )
        super().__init__(conv, upsample, make_activation(activation))


class ClassificationHead(nn.Sequential):
    """Global pooling, optional dropout, linear to ``classes``, optional activation: (N, classes)."""

    def __init__(
        self,
        in_channels: int,
        classes: int,
        *,
        pooling: Literal["avg", "max"] = "avg",
        dropout: float | None = None,
        activation: str | Callable[..., Any] | None = None,
    ) -> None:
        if pooling not in ("avg", "max"):
            raise ValueError(f"pooling must be 'avg' or 'max', got {pooling!r}")
        pool = nn.AdaptiveAvgPool2d(1) if pooling == "avg" else nn.AdaptiveMaxPool2d(1)
        drop = nn.Dropout(p=dropout) if dropout else nn.Identity()
        super().__init__(pool, nn.Flatten(), drop, nn.Linear(in_channels, classes), make_activation(activation))
