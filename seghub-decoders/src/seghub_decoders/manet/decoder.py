"""MA-Net decoder (Fan et al., 2020): position-wise attention on the deepest feature and
multi-scale fusion attention at each skip; smp 0.6 options and state-dict layout."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from seghub.checkpointing import GradCheckpointing
from torch import nn

from .._init import init_like_smp
from .._layers import ConvNormReLU, resize_to
from .._levels import SkipLevels
from ..unet.decoder import fit_decoder_channels

__all__ = ["MAnetDecoder", "PositionAttentionBlock", "FusionAttentionBlock", "PlainBlock"]


class PositionAttentionBlock(nn.Module):
    """Position-wise attention (PAB) over all pixels of a map, followed by a 3x3 conv.

    Memory grows with (H*W)^2: it runs on the deepest feature only.
    """

    def __init__(self, in_channels: int, pab_channels: int = 64) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.top_conv = nn.Conv2d(in_channels, pab_channels, kernel_size=1)
        self.center_conv = nn.Conv2d(in_channels, pab_channels, kernel_size=1)
        self.bottom_conv = nn.Conv2d(in_channels, in_channels, kernel_size=3, padding=1)
        self.map_softmax = nn.Softmax(dim=1)
        self.out_conv = nn.Conv2d(in_channels, in_channels, kernel_size=3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, _, height, width = x.shape
        keys = self.top_conv(x).flatten(2)  # B, P, HW
        queries = self.center_conv(x).flatten(2).transpose(1, 2)  # B, HW, P
        values = self.bottom_conv(x).flatten(2).transpose(1, 2)  # B, HW, C
        # One softmax over the whole HW x HW map, as the reference implementation does.
        weights = self.map_softmax(torch.bmm(queries, keys).view(batch, -1)).view(batch, height * width, height * width)
        # (B, HW, C) is reinterpreted (not transposed) as (B, C, H, W), as in smp.
        attended = torch.bmm(weights, values).reshape(batch, self.in_channels, height, width)
        return self.out_conv(x + attended)


def _squeeze_excite(channels: int, reduction: int) -> nn.Sequential:
    hidden = max(1, channels // reduction)
    return nn.Sequential(
        nn.AdaptiveAvgPool2d(1),
        nn.Conv2d(channels, hidden, 1),
        nn.ReLU(inplace=True),
        nn.Conv2d(hidden, channels, 1),
        nn.Sigmoid(),
    )


class FusionAttentionBlock(nn.Module):
    """Multi-scale fusion attention (MFAB): project the coarse map to the skip's width, upsample,
    gate it with squeeze-excitation of both inputs, concatenate the skip, two 3x3 convs."""

    def __init__(
        self,
        in_channels: int,
        skip_channels: int,
        out_channels: int,
        use_norm: Any = "batchnorm",
        interpolation: str = "nearest",
        reduction: int = 16,
    ) -> None:
        super().__init__()
        self.interpolation = interpolation
        self.hl_conv = nn.Sequential(
            ConvNormReLU(in_channels, in_channels, 3, padding=1, use_norm=use_norm),
            ConvNormReLU(in_channels, skip_channels, 1, use_norm=use_norm),
        )
        self.SE_ll = _squeeze_excite(skip_channels, reduction)
        self.SE_hl = _squeeze_excite(skip_channels, reduction)
        self.conv1 = ConvNormReLU(2 * skip_channels, out_channels, 3, padding=1, use_norm=use_norm)
        self.conv2 = ConvNormReLU(out_channels, out_channels, 3, padding=1, use_norm=use_norm)

    def forward(self, x: torch.Tensor, size: Sequence[int], skip: torch.Tensor) -> torch.Tensor:
        x = resize_to(self.hl_conv(x), size, self.interpolation)
        gate = self.SE_hl(x) + self.SE_ll(skip)
        x = torch.cat([x * gate, skip], dim=1)
        return self.conv2(self.conv1(x))


class PlainBlock(nn.Module):
    """Upsample, concatenate the skip if any, two 3x3 conv-norm-ReLU (blocks without a real skip)."""

    def __init__(
        self,
        in_channels: int,
        skip_channels: int,
        out_channels: int,
        use_norm: Any = "batchnorm",
        interpolation: str = "nearest",
    ) -> None:
        super().__init__()
        self.interpolation = interpolation
        self.conv1 = ConvNormReLU(in_channels + skip_channels, out_channels, 3, padding=1, use_norm=use_norm)
        self.conv2 = ConvNormReLU(out_channels, out_channels, 3, padding=1, use_norm=use_norm)

    def forward(self, x: torch.Tensor, size: Sequence[int], skip: torch.Tensor | None = None) -> torch.Tensor:
        x = resize_to(x, size, self.interpolation)
        if skip is not None:
            x = torch.cat([x, skip], dim=1)
        return self.conv2(self.conv1(x))


class MAnetDecoder(GradCheckpointing, nn.Module):
    """MA-Net decoder: PAB on the deepest feature, then one block per level up to the input
    resolution (MFAB where a skip has channels, a plain block elsewhere).

    Supports power-of-two reductions starting at 2 or above, including dilated encoders.
    Output: ``decoder_channels[-1]`` channels at reduction 1. ``set_grad_checkpointing(True)``
    checkpoints the PAB and each block in training.
    """

    requires_divisible_input = True

    def __init__(
        self,
        *,
        encoder_channels: Sequence[int],
        encoder_reductions: Sequence[int],
        decoder_channels: Sequence[int],
        decoder_use_norm: Any,
        decoder_pab_channels: int,
        decoder_interpolation: str,
    ) -> None:
        super().__init__()
        self.levels = SkipLevels("manet", encoder_channels, encoder_reductions)
        channels = fit_decoder_channels(self.levels, decoder_channels)
        head = self.levels.head_channels
        self.center = PositionAttentionBlock(head, pab_channels=decoder_pab_channels)
        blocks: list[nn.Module] = []
        for cin, cskip, cout in zip((head, *channels[:-1]), self.levels.skip_channels, channels):
            if cskip > 0:
                blocks.append(FusionAttentionBlock(cin, cskip, cout, decoder_use_norm, decoder_interpolation))
            else:
                blocks.append(PlainBlock(cin, cskip, cout, decoder_use_norm, decoder_interpolation))
        self.blocks = nn.ModuleList(blocks)
        self.out_channels: int = channels[-1]
        self.reduction: int = self.levels.output_reduction
        init_like_smp(self)

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        head, skips, sizes = self.levels.split(features)
        x = self.checkpointed(self.center, head)
        for block, skip, size in zip(self.blocks, skips, sizes):
            x = self.checkpointed(block, x, size, skip)
        return x
