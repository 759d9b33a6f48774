"""Moving a feature map from a reduction that is not a power of two to the nearest one that is."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

__all__ = ["nearest_power_of_two", "resample_grid"]


def nearest_power_of_two(reduction: int) -> int:
    """The power of two nearest to ``reduction`` in ratio (14 -> 16, 12 -> 16, 28 -> 32)."""
    return 2 ** round(math.log2(reduction))


def resample_grid(x: torch.Tensor, reduction: int, target: int, mode: str) -> torch.Tensor:
    """``x``, a map at ``reduction`` of the input, resized to one at ``target``.

    Exact when the input's height and width divide by both reductions (the model's input
    divisor sees to it): a map of ``n`` cells at ``reduction`` then has ``n * reduction /
    target`` cells at ``target``. The sizes stay symbolic under torch.compile and torch.export.
    """
    if reduction == target:
        return x
    height, width = x.shape[-2:]
    size = (height * reduction // target, width * reduction // target)
    align = False if mode in ("bilinear", "bicubic") else None
    return F.interpolate(x, size=size, mode=mode, align_corners=align)
