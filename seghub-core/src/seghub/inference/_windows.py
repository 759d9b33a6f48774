"""Where the windows go and how much each of their pixels counts.

Both follow MONAI 1.x's ``sliding_window_inference``, so that seghub's results equal MONAI's:

* along each axis the image is first padded to at least the window (half the difference before,
  the rest after); windows then start every ``int(window * (1 - overlap))`` pixels (at least 1),
  as few as cover the axis, and the last one is moved back to end at the image's edge;
* the gaussian importance map is the outer product of one gaussian per axis, centred on the
  window with ``sigma = sigma_scale * window``, clamped from below at 1e-3 so that no pixel of a
  window is ignored.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

__all__ = ["AxisPlan", "plan_axis", "importance_map", "BLEND_MODES"]

BLEND_MODES = ("constant", "gaussian")
IMPORTANCE_FLOOR = 1e-3


@dataclass(frozen=True)
class AxisPlan:
    """The windows along one axis of the image.

    Coordinates are those of the image *before* padding: a window covers
    ``[start, start + window)``, which may reach outside ``[0, size)`` by the padding only.
    ``pad_before`` is the padding MONAI would add before the image along this axis.
    """

    size: int
    window: int
    starts: tuple[int, ...]
    pad_before: int


def plan_axis(size: int, window: int, overlap: float) -> AxisPlan:
    """Window starts along an axis of ``size`` pixels for windows of ``window`` pixels."""
    padded = max(size, window)
    pad_before = (padded - size) // 2
    if window >= padded:
        starts_padded = [0]
    else:
        step = max(int(window * (1 - overlap)), 1)
        count = math.ceil((padded - window) / step) + 1
        starts_padded = [min(i * step, padded - window) for i in range(count)]
    return AxisPlan(size=size, window=window, starts=tuple(s - pad_before for s in starts_padded), pad_before=pad_before)


def importance_map(
    window: tuple[int, int],
    *,
    blend: str,
    sigma_scale: Sequence[float],
    dtype: torch.dtype,
    device: torch.device,
) -> torch.Tensor:
    """The ``(h, w)`` weight of each window pixel: ones for ``"constant"``, a clamped gaussian
    for ``"gaussian"``. Computed in float32, then cast (as MONAI does)."""
    if blend == "constant":
        return torch.ones(window, dtype=dtype, device=device)
    profiles = []
    for length, scale in zip(window, sigma_scale):
        offset = torch.arange(length, dtype=torch.float32, device=device) - (length - 1) / 2.0
        sigma = scale * length
        profiles.append(torch.exp(offset * offset / (-2.0 * sigma * sigma)))
    weights = profiles[0][:, None] * profiles[1][None, :]
    floor = max(float(weights.min()), IMPORTANCE_FLOOR)
    return weights.clamp_(min=floor).to(dtype)
