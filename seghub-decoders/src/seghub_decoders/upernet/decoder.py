"""UPerNet decoder (Xiao et al. 2018): a pyramid pooling module on the coarsest feature, an FPN
top-down path over the finer ones, and a fusion of all pyramid levels at the finest.

Uses the encoder features at reduction 4 or more. Submodule names follow
segmentation_models_pytorch 0.6 (``feature_norms``, ``psp``, ``fpn_lateral_blocks``,
``fpn_conv_blocks``, ``fusion_block``).

The fusion convolution runs over the concatenation of all levels, upsampled to the finest. The
forward pass computes it as the sum of its weight slices applied to each level: the same function
up to float rounding, without building the concatenation (4 x 256 channels at reduction 4) and,
with checkpointing, keeping only the coarse levels for the backward pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from seghub.checkpointing import GradCheckpointing
from torch import nn

from .._init import init_like_smp
from .._layers import AdaptiveAvgPool2d, ConvNormReLU, resize_bilinear
from .._levels import check_features, format_reductions
from .._norms import LayerNorm2d

__all__ = ["UPerNetDecoder"]

PSP_BINS = (1, 2, 3, 6)
FEATURE_NORM_EPS = 1e-6


class PSPModule(nn.Module):
    """Pyramid pooling: pooled 1x1 projections at several bin counts, concatenated with the input."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        bins: Sequence[int] = PSP_BINS,
        use_norm: bool | str | dict[str, Any] = "batchnorm",
    ) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(
            nn.Sequential(AdaptiveAvgPool2d(b), ConvNormReLU(in_channels, out_channels, 1, use_norm=use_norm))
            for b in bins
        )
        # smp always uses batchnorm here, whatever decoder_use_norm says
        self.out_conv = ConvNormReLU(
            in_channels + len(bins) * out_channels, out_channels, 3, padding=1, use_norm="batchnorm"
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[-2:]
        pooled = [resize_bilinear(block(x), size) for block in self.blocks]
        return self.out_conv(torch.cat([x, *pooled], dim=1))


class FPNLateralBlock(nn.Module):
    """1x1 projection of an encoder feature plus the upsampled coarser pyramid level."""

    def __init__(
        self, lateral_channels: int, out_channels: int, use_norm: bool | str | dict[str, Any] = "batchnorm"
    ) -> None:
        super().__init__()
        self.conv_norm_relu = ConvNormReLU(lateral_channels, out_channels, 1, use_norm=use_norm)

    def forward(self, coarser: torch.Tensor, lateral: torch.Tensor) -> torch.Tensor:
        lateral = self.conv_norm_relu(lateral)
        return resize_bilinear(coarser, lateral.shape[-2:]) + lateral


class UPerNetDecoder(GradCheckpointing, nn.Module):
    """UPerNet over the encoder features at reduction >= 4; the output is at the finest of them.

    ``set_grad_checkpointing(True)`` checkpoints the pyramid pooling, each FPN block, each level's
    share of the fusion and its normalisation in training.
    """

    requires_divisible_input = True

    def __init__(
        self,
        *,
        encoder_channels: Sequence[int],
        encoder_reductions: Sequence[int],
        decoder_channels: int,
        decoder_use_norm: bool | str | dict[str, Any],
    ) -> None:
        super().__init__()
        channels, reductions = check_features("UPerNet", encoder_channels, encoder_reductions)
        used = [i for i, r in enumerate(reductions) if r >= 4]
        if len(used) < 2:
            raise ValueError(
                "UPerNet needs at least two encoder features at reduction 4 or more (the coarsest "
                "for pyramid pooling, finer ones for the FPN; smp: encoder depth >= 3); the "
                f"encoder's reductions are {format_reductions(reductions)}"
            )
        self._first = used[0]
        width, norm = decoder_channels, decoder_use_norm
        used_channels = channels[self._first:]
        self.feature_norms = nn.ModuleList(LayerNorm2d(c, eps=FEATURE_NORM_EPS) for c in used_channels)
        self.psp = PSPModule(used_channels[-1], width, use_norm=norm)
        # FPN levels from the second-coarsest feature down to the finest
        lateral_channels = used_channels[:-1][::-1]
        self.fpn_lateral_blocks = nn.ModuleList(FPNLateralBlock(c, width, norm) for c in lateral_channels)
        self.fpn_conv_blocks = nn.ModuleList(
            ConvNormReLU(width, width, 3, padding=1, use_norm=norm) for _ in lateral_channels
        )
        self.fusion_block = ConvNormReLU(
            (len(lateral_channels) + 1) * width, width, 3, padding=1, use_norm=norm
        )
        self.out_channels: int = width
        self.reduction: int = reductions[self._first]
        init_like_smp(self)

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        used = [norm(f) for norm, f in zip(self.feature_norms, features[self._first:])]
        levels = [self.checkpointed(self.psp, used[-1])]  # coarse to fine
        for block, lateral in zip(self.fpn_lateral_blocks, used[-2::-1]):
            levels.append(self.checkpointed(block, levels[-1], lateral))
        levels[1:] = [self.checkpointed(conv, level) for conv, level in zip(self.fpn_conv_blocks, levels[1:])]
        levels.reverse()  # fine to coarse: the order the fusion convolution's input channels have
        size = (levels[0].shape[-2], levels[0].shape[-1])
        conv = self.fusion_block[0]
        fused: torch.Tensor | None = None
        for i, (level, weight) in enumerate(zip(levels, conv.weight.split(self.out_channels, dim=1))):
            share = self.checkpointed(self._fusion_share, level, weight, size if i > 0 else None)
            fused = share if fused is None else fused + share
        assert fused is not None
        if conv.bias is not None:
            fused = fused + conv.bias[:, None, None]
        return self.checkpointed(self.fusion_block.normalize, fused)

    def _fusion_share(self, level: torch.Tensor, weight: torch.Tensor, size: tuple[int, int] | None) -> torch.Tensor:
        """One level's term of the fusion convolution, upsampled to ``size`` first when given."""
        if size is not None:
            level = resize_bilinear(level, size)
        return F.conv2d(level, weight, padding=1)
