"""``simple_pyramid``: the simple feature pyramid of ViTDet (Li et al., 2022).

From the encoder's last map, at reduction ``s``, it makes four: two stride-2 transposed
convolutions give ``s/4``, one gives ``s/2``, the map itself stays at ``s``, a 2x2 max pool
gives ``2s``; each then goes through a 1x1 and a 3x3 convolution with channel layer norms, to
``channels`` channels. A plain ViT's reduction 16 becomes 4, 8, 16, 32, the pyramid U-Net,
DeepLabV3+, FPN and the others expect. A map at a reduction that is not a power of two (a
patch-14 ViT) is first resampled to the nearest power of two.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .._init import init_like_smp
from .._levels import is_power_of_two
from .._norms import LayerNorm2d
from ._grid import nearest_power_of_two, resample_grid

__all__ = ["SimpleFeaturePyramid"]

SCALES = (4, 2, 1, 0.5)
"""How much each level is upsampled from the base map, finest first."""


def _project(in_channels: int, channels: int) -> nn.Sequential:
    """1x1 conv, layer norm, 3x3 conv, layer norm (ViTDet's output convolutions)."""
    return nn.Sequential(
        nn.Conv2d(in_channels, channels, kernel_size=1, bias=False),
        LayerNorm2d(channels),
        nn.Conv2d(channels, channels, kernel_size=3, padding=1, bias=False),
        LayerNorm2d(channels),
    )


class SimpleFeaturePyramid(nn.Module):
    """Four maps at ``s/4, s/2, s, 2s`` from the encoder's last map at reduction ``s``."""

    def __init__(
        self,
        *,
        encoder_channels: Sequence[int],
        encoder_reductions: Sequence[int],
        channels: int,
        output_reductions: Sequence[int] | None = None,
    ) -> None:
        """``output_reductions`` (a subset of the four, given by the builder for a decoder that
        reads only some) builds only those levels, so every parameter gets a gradient."""
        super().__init__()
        width, reduction = int(encoder_channels[-1]), int(encoder_reductions[-1])
        base = reduction if is_power_of_two(reduction) else nearest_power_of_two(reduction)
        if base < 4:
            raise ValueError(
                f"simple_pyramid makes maps down to a quarter of its input's reduction, which must be 4 or more; "
                f"the encoder's last map is at reduction {reduction}"
            )
        self.source_reduction, self.base_reduction = reduction, base
        every = tuple(int(base / scale) for scale in SCALES)
        wanted = every if output_reductions is None else tuple(int(r) for r in output_reductions)
        if not wanted or any(r not in every for r in wanted):
            raise ValueError(f"simple_pyramid gives reductions {every}; output_reductions {wanted} is not a subset of them")
        self.scales = tuple(scale for scale, r in zip(SCALES, every) if r in wanted)
        half, quarter = max(width // 2, 1), max(width // 4, 1)
        branches: dict[str, nn.Module] = {}
        for scale in self.scales:
            if scale == 4:
                branches["up4"] = nn.Sequential(
                    nn.ConvTranspose2d(width, half, kernel_size=2, stride=2),
                    LayerNorm2d(half),
                    nn.GELU(),
                    nn.ConvTranspose2d(half, quarter, kernel_size=2, stride=2),
                )
            elif scale == 2:
                branches["up2"] = nn.ConvTranspose2d(width, half, kernel_size=2, stride=2)
            elif scale == 0.5:
                branches["down2"] = nn.MaxPool2d(kernel_size=2, stride=2)
        self.branches = nn.ModuleDict(branches)
        level_channels = {4: quarter, 2: half, 1: width, 0.5: width}
        self.outputs = nn.ModuleList(_project(level_channels[scale], channels) for scale in self.scales)
        self.out_channels: tuple[int, ...] = (channels,) * len(self.scales)
        self.reductions: tuple[int, ...] = tuple(int(base / scale) for scale in self.scales)
        init_like_smp(self)

    def forward(self, features: list[torch.Tensor]) -> list[torch.Tensor]:
        x = resample_grid(features[-1], self.source_reduction, self.base_reduction, "bilinear")
        return [project(self._level(x, scale)) for project, scale in zip(self.outputs, self.scales)]

    def _level(self, x: torch.Tensor, scale: float) -> torch.Tensor:
        if scale == 1:
            return x
        return self.branches[{4: "up4", 2: "up2", 0.5: "down2"}[scale]](x)

    def extra_repr(self) -> str:
        return f"reduction {self.source_reduction} -> {self.reductions}"
