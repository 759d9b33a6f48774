"""LinkNet decoder (Chaurasia & Culurciello, 2017): additive skips and transposed-conv
upsampling; smp 0.6 options and state-dict layout."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from seghub.checkpointing import GradCheckpointing
from torch import nn

from .._init import init_like_smp
from .._layers import ConvNormReLU
from .._levels import SkipLevels
from .._norms import make_norm

__all__ = ["LinknetDecoder", "LinknetBlock", "PREFINAL_CHANNELS"]

PREFINAL_CHANNELS = 32
"""Channels of the last block's output (fixed in smp's Linknet)."""


class _TransposeUp(nn.Sequential):
    """4x4 stride-2 transposed conv -> norm -> ReLU: doubles height and width."""

    def __init__(self, in_channels: int, out_channels: int, use_norm: Any = "batchnorm") -> None:
        super().__init__(
            nn.ConvTranspose2d(in_channels, out_channels, kernel_size=4, stride=2, padding=1),
            make_norm(use_norm, out_channels),
            nn.ReLU(inplace=True),
        )


class LinknetBlock(nn.Module):
    """1x1 squeeze to in/4, transposed-conv x2, 1x1 expand; then add the skip if it has channels."""

    def __init__(self, in_channels: int, out_channels: int, use_norm: Any = "batchnorm") -> None:
        super().__init__()
        mid = in_channels // 4
        if mid < 1:
            raise ValueError(f"linknet blocks need at least 4 input channels, got {in_channels}")
        self.block = nn.Sequential(
            ConvNormReLU(in_channels, mid, 1, use_norm=use_norm),
            _TransposeUp(mid, mid, use_norm=use_norm),
            ConvNormReLU(mid, out_channels, 1, use_norm=use_norm),
        )

    def forward(self, x: torch.Tensor, skip: torch.Tensor | None = None) -> torch.Tensor:
        x = self.block(x)
        if skip is not None and skip.shape[1] > 0:
            x = x + skip
        return x


class LinknetDecoder(GradCheckpointing, nn.Module):
    """LinkNet decoder: one x2 block per level from the deepest feature to the input resolution.

    Each block outputs the channel count of the skip it adds (or keeps its input width at a
    missing level); the last outputs 32 channels at reduction 1. Needs each feature at twice the
    reduction of the previous one (no dilated encoders); encoders starting at reduction 4 work.
    ``set_grad_checkpointing(True)`` checkpoints each block in training.
    """

    requires_divisible_input = True

    def __init__(
        self,
        *,
        encoder_channels: Sequence[int],
        encoder_reductions: Sequence[int],
        decoder_use_norm: Any,
    ) -> None:
        super().__init__()
        self.levels = SkipLevels("linknet", encoder_channels, encoder_reductions, strict_doubling=True)
        widths = [self.levels.head_channels]
        for skip, has_skip in zip(self.levels.skip_channels, self.levels.has_skip):
            if not has_skip:
                widths.append(PREFINAL_CHANNELS)
            else:
                widths.append(skip if skip > 0 else widths[-1])
        self.blocks = nn.ModuleList(
            LinknetBlock(cin, cout, use_norm=decoder_use_norm) for cin, cout in zip(widths, widths[1:])
        )
        self.out_channels: int = widths[-1]
        self.reduction: int = self.levels.output_reduction
        init_like_smp(self)

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        x, skips, _ = self.levels.split(features)
        for block, skip in zip(self.blocks, skips):
            x = self.checkpointed(block, x, skip)
        return x
