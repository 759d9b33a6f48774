"""Synthetic shapes: bright circles, squares and triangles on dark noisy backgrounds, with masks.

Class 0 is background; classes 1, 2, 3 are circle, triangle, square. A dataset for fewer
classes draws fewer kinds of shape (two classes: background and circles); one for a binary
model (one mask channel) marks every shape 1. Later shapes cover earlier ones.
"""

from __future__ import annotations

import torch

__all__ = ["SHAPE_NAMES", "shape_kinds", "shapes_batch"]

SHAPE_NAMES = ("background", "circle", "triangle", "square")


def shape_kinds(classes: int) -> int:
    """How many kinds of shape a dataset for a model with ``classes`` mask channels draws."""
    return 3 if classes == 1 else min(classes - 1, 3)


def _shape(kind: int, x: torch.Tensor, y: torch.Tensor, cx: float, cy: float, r: float) -> torch.Tensor:
    if kind == 1:
        return (x - cx) ** 2 + (y - cy) ** 2 <= r * r
    if kind == 2:
        top = cy - r  # apex up, base of width 2r at cy + r
        return (y >= top) & (y <= cy + r) & ((x - cx).abs() <= (y - top) / 2)
    return ((x - cx).abs() <= r * 0.9) & ((y - cy).abs() <= r * 0.9)


def shapes_batch(
    count: int, size: int, classes: int, generator: torch.Generator, channels: int = 3
) -> tuple[torch.Tensor, torch.Tensor]:
    """``count`` images ``(N, channels, size, size)`` in about [-1, 1] and their masks ``(N, size, size)``
    of class indices (0 or 1 for a binary model, ``classes == 1``)."""
    kinds = shape_kinds(classes)
    coords = torch.arange(size, dtype=torch.float32) + 0.5
    y, x = torch.meshgrid(coords, coords, indexing="ij")
    images = torch.empty(count, channels, size, size)
    masks = torch.zeros(count, size, size, dtype=torch.long)

    def uniform(low: float, high: float, n: int = 1) -> torch.Tensor:
        return low + (high - low) * torch.rand(n, generator=generator)

    for i in range(count):
        # dark backgrounds, bright shapes (one channel of a colour image may take any value)
        image = uniform(0.0, 0.4, channels)[:, None, None].expand(channels, size, size).clone()
        for _ in range(int(torch.randint(1, 4, (1,), generator=generator))):
            kind = int(torch.randint(1, kinds + 1, (1,), generator=generator))
            r = float(uniform(size * 0.14, size * 0.28))
            cx, cy = (float(v) for v in uniform(r, size - r, 2))
            inside = _shape(kind, x, y, cx, cy, r)
            colour = uniform(0.65, 1.0, channels)
            if channels > 1:
                colour[int(torch.randint(0, channels, (1,), generator=generator))] = float(uniform(0.0, 1.0))
            image[:, inside] = colour[:, None]
            masks[i][inside] = 1 if classes == 1 else kind
        images[i] = image + 0.08 * torch.randn(channels, size, size, generator=generator)
    return images * 2 - 1, masks
