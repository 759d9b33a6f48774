"""PAN decoder (Pyramid Attention Network, Li et al. 2018).

A feature pyramid attention (FPA) block on the coarsest feature, then global attention upsample
(GAU) blocks that climb to the finest feature at reduction 4 or more. Submodule names follow
segmentation_models_pytorch 0.6 (``fpa.*``, ``gau1`` at the finest level, ``gau2``, ...).
"""

from __future__ import annotations

from collections.abc import Sequence
import torch
import torch.nn.functional as F
from seghub.checkpointing import GradCheckpointing
from seghub.errors import InputShapeError
from torch import nn

from .._init import init_like_smp
from .._levels import check_features, format_reductions

__all__ = ["PANDecoder", "MIN_FPA_SIZE"]

MIN_FPA_SIZE = 8
"""FPA halves the coarsest feature three times, so it needs at least 8 pixels per side."""


def _align_corners(mode: str) -> bool | None:
    return True if mode == "bilinear" else None


class ConvBNReLU(nn.Module):
    """Conv2d (with bias) -> BatchNorm2d -> optional ReLU (keys ``conv.*``, ``bn.*``)."""

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, *, relu: bool = True
    ) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2)
        self.bn = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True) if relu else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.bn(self.conv(x)))


class FPABlock(nn.Module):
    """Feature pyramid attention: a 7-5-3 single-channel pyramid gates a 1x1 projection,
    plus a global-pooling branch."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.branch1 = nn.Sequential(nn.AdaptiveAvgPool2d(1), ConvBNReLU(in_channels, out_channels, 1))
        self.mid = nn.Sequential(ConvBNReLU(in_channels, out_channels, 1))
        self.down1 = nn.Sequential(nn.MaxPool2d(2, 2), ConvBNReLU(in_channels, 1, 7))
        self.down2 = nn.Sequential(nn.MaxPool2d(2, 2), ConvBNReLU(1, 1, 5))
        self.down3 = nn.Sequential(nn.MaxPool2d(2, 2), ConvBNReLU(1, 1, 3), ConvBNReLU(1, 1, 3))
        self.conv2 = ConvBNReLU(1, 1, 5)
        self.conv1 = ConvBNReLU(1, 1, 7)

    @staticmethod
    def _resize(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        return F.interpolate(x, size=size, mode="bilinear", align_corners=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-2:]
        if min(height, width) < MIN_FPA_SIZE:
            raise InputShapeError(
                f"PAN: the coarsest encoder feature is {height}x{width}, but the feature pyramid "
                f"attention needs at least {MIN_FPA_SIZE}x{MIN_FPA_SIZE}; use a larger input "
                f"(at least {MIN_FPA_SIZE}x the encoder's output stride per side)"
            )
        glob = self._resize(self.branch1(x), (height, width))
        mid = self.mid(x)
        d1 = self.down1(x)
        d2 = self.down2(d1)
        d3 = self._resize(self.down3(d2), (height // 4, width // 4))
        pyramid = self._resize(self.conv2(d2) + d3, (height // 2, width // 2))
        pyramid = self._resize(pyramid + self.conv1(d1), (height, width))
        return pyramid * mid + glob


class GAUBlock(nn.Module):
    """Global attention upsample: the coarse map's channel attention gates the finer feature."""

    def __init__(self, in_channels: int, out_channels: int, interpolation: str = "bilinear") -> None:
        super().__init__()
        self.interpolation = interpolation
        self.align_corners = _align_corners(interpolation)
        self.conv1 = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), ConvBNReLU(out_channels, out_channels, 1, relu=False), nn.Sigmoid()
        )
        self.conv2 = ConvBNReLU(in_channels, out_channels, 3)

    def forward(self, low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
        """``low``: the finer encoder feature; ``high``: the decoder's coarser map."""
        up = F.interpolate(
            high, size=low.shape[-2:], mode=self.interpolation, align_corners=self.align_corners
        )
        return up + self.conv2(low) * self.conv1(high)


class PANDecoder(GradCheckpointing, nn.Module):
    """PAN: FPA on the coarsest feature, then one GAU per finer feature at reduction >= 4.

    Features at reduction 2 are not used. The output is at the reduction of the finest
    feature used (4 for ResNets and ConvNeXt-like encoders). ``set_grad_checkpointing(True)``
    checkpoints the FPA and each GAU in training.
    """

    requires_divisible_input = True

    def __init__(
        self,
        *,
        encoder_channels: Sequence[int],
        encoder_reductions: Sequence[int],
        decoder_channels: int,
        decoder_interpolation: str,
    ) -> None:
        super().__init__()
        channels, reductions = check_features("PAN", encoder_channels, encoder_reductions)
        used = [i for i, r in enumerate(reductions) if r >= 4]
        if len(used) < 2:
            raise ValueError(
                "PAN needs at least two encoder features at reduction 4 or more (the coarsest for "
                "the pyramid attention, finer ones for attention upsampling; smp: encoder depth >= 3); "
                f"the encoder's reductions are {format_reductions(reductions)}"
            )
        self._first = used[0]
        width = decoder_channels
        self.fpa = FPABlock(channels[-1], width)
        # gau1 sits at the finest used feature, gau2 one level coarser, ...
        for level, index in enumerate(used[:-1], start=1):
            self.add_module(f"gau{level}", GAUBlock(channels[index], width, decoder_interpolation))
        self._num_gau = len(used) - 1
        self.out_channels: int = width
        self.reduction: int = reductions[self._first]
        init_like_smp(self)

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        used = features[self._first:]
        out = self.checkpointed(self.fpa, used[-1])
        for level in range(self._num_gau, 0, -1):
            out = self.checkpointed(self.get_submodule(f"gau{level}"), used[level - 1], out)
        return out
