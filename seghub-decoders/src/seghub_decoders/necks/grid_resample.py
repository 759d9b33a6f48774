"""``grid_resample``: put features at reductions that are not powers of two (a patch-14 ViT's
token grid at 14) onto the nearest power of two (16), keeping channels and their number.

It has no parameters. Because it keeps every feature's channels, a ViT's prefix tokens still
reach a decoder that reads them (DPT's readout).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .._levels import format_reductions, is_power_of_two
from ._grid import nearest_power_of_two, resample_grid

__all__ = ["GridResample"]


class GridResample(nn.Module):
    """Resample each feature at a non-power-of-two reduction to the nearest power of two."""

    def __init__(self, *, encoder_channels: Sequence[int], encoder_reductions: Sequence[int], mode: str) -> None:
        super().__init__()
        reductions = tuple(int(r) for r in encoder_reductions)
        if all(is_power_of_two(r) for r in reductions):
            raise ValueError(
                f"grid_resample has nothing to do: the encoder's reductions {format_reductions(reductions)} are "
                "already powers of two"
            )
        self.mode = mode
        self.in_reductions = reductions
        self.out_channels: tuple[int, ...] = tuple(int(c) for c in encoder_channels)
        self.reductions: tuple[int, ...] = tuple(nearest_power_of_two(r) for r in reductions)

    def forward(self, features: list[torch.Tensor]) -> list[torch.Tensor]:
        return [
            resample_grid(feature, source, target, self.mode)
            for feature, source, target in zip(features, self.in_reductions, self.reductions)
        ]

    def extra_repr(self) -> str:
        return f"reductions {format_reductions(self.in_reductions)} -> {format_reductions(self.reductions)}"
