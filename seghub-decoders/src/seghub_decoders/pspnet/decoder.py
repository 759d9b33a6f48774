"""Pyramid Scene Parsing decoder (Zhao et al., 2017); smp 0.6 options and state-dict layout."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from seghub.checkpointing import GradCheckpointing
from torch import nn

from .._init import init_like_smp
from .._layers import AdaptiveAvgPool2d, ConvNormReLU
from .._levels import check_features

__all__ = ["PSPDecoder", "POOL_SIZES"]

POOL_SIZES: tuple[int, ...] = (1, 2, 3, 6)
"""Output sizes of the pyramid pooling branches (fixed, as in smp)."""


class _PoolBranch(nn.Module):
    """Average-pool to ``size`` x ``size``, 1x1 conv-norm-ReLU, bilinear back to the input size."""

    def __init__(self, in_channels: int, out_channels: int, size: int, use_norm: Any = "batchnorm") -> None:
        super().__init__()
        # A 1x1 pooled map cannot be batch-normalised in training: no norm there (as in smp).
        norm = "identity" if size == 1 else use_norm
        self.pool = nn.Sequential(
            AdaptiveAvgPool2d(output_size=(size, size)),
            ConvNormReLU(in_channels, out_channels, 1, use_norm=norm),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(self.pool(x), size=x.shape[-2:], mode="bilinear", align_corners=True)


class _PyramidPooling(nn.Module):
    """The pooling branches concatenated with their input."""

    def __init__(self, in_channels: int, use_norm: Any = "batchnorm") -> None:
        super().__init__()
        branch = in_channels // len(POOL_SIZES)
        self.blocks = nn.ModuleList(_PoolBranch(in_channels, branch, size, use_norm) for size in POOL_SIZES)
        self.out_channels = in_channels + branch * len(POOL_SIZES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([block(x) for block in self.blocks] + [x], dim=1)


class PSPDecoder(GradCheckpointing, nn.Module):
    """PSPNet decoder on the encoder's last (coarsest) feature: pyramid pooling, a 1x1
    conv-norm-ReLU to ``psp_out_channels``, dropout. Output at that feature's reduction.
    ``set_grad_checkpointing(True)`` checkpoints the pyramid pooling and the conv in training."""

    requires_divisible_input = True  # the head upsamples by the reduction, so sizes must divide

    def __init__(
        self,
        *,
        encoder_channels: Sequence[int],
        encoder_reductions: Sequence[int],
        decoder_use_norm: Any,
        psp_out_channels: int,
        psp_dropout: float,
    ) -> None:
        super().__init__()
        channels, reductions = check_features("pspnet", encoder_channels, encoder_reductions)
        last = channels[-1]
        if last < len(POOL_SIZES):
            raise ValueError(
                f"pspnet splits the last feature's channels over {len(POOL_SIZES)} pooling branches and needs "
                f"at least {len(POOL_SIZES)} channels; the encoder's last feature has {last}"
            )
        self.psp = _PyramidPooling(last, use_norm=decoder_use_norm)
        self.conv = ConvNormReLU(self.psp.out_channels, psp_out_channels, 1, use_norm=decoder_use_norm)
        self.dropout = nn.Dropout2d(p=psp_dropout)
        self.out_channels: int = psp_out_channels
        self.reduction: int = reductions[-1]
        init_like_smp(self)

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        pooled = self.checkpointed(self.psp, features[-1])
        return self.dropout(self.checkpointed(self.conv, pooled))
