"""U-Net decoder (Ronneberger et al., 2015), with smp 0.6's options and state-dict layout."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from seghub.checkpointing import GradCheckpointing
from torch import nn

from .._init import init_like_smp
from .._layers import Attention, ConvNormReLU, resize_to
from .._levels import SkipLevels
from .params import DEFAULT_DECODER_CHANNELS

__all__ = ["UnetDecoder", "UnetBlock", "UnetCenterBlock", "fit_decoder_channels"]


def fit_decoder_channels(levels: SkipLevels, decoder_channels: Sequence[int]) -> tuple[int, ...]:
    """Check ``decoder_channels`` against the number of blocks the encoder needs.

    The default (256, 128, 64, 32, 16) is cut to its first entries for shallower encoders
    (smp would refuse); any other value must have exactly one entry per block.
    """
    values = tuple(decoder_channels)
    if values == DEFAULT_DECODER_CHANNELS and levels.num_blocks < len(values):
        values = values[: levels.num_blocks]
    return levels.check_channels(values)


class UnetBlock(nn.Module):
    """Upsample to the skip's size, concatenate the skip, then two 3x3 conv-norm-ReLU.

    With a skip, attention runs on the concatenation; attention always runs on the output.
    """

    def __init__(
        self,
        in_channels: int,
        skip_channels: int,
        out_channels: int,
        use_norm: Any = "batchnorm",
        attention_type: str | None = None,
        interpolation: str = "nearest",
    ) -> None:
        super().__init__()
        self.interpolation = interpolation
        self.conv1 = ConvNormReLU(in_channels + skip_channels, out_channels, 3, padding=1, use_norm=use_norm)
        # smp builds attention1 even for the last block, where no skip exists and it is unused.
        self.attention1 = Attention(attention_type, in_channels + skip_channels)
        self.conv2 = ConvNormReLU(out_channels, out_channels, 3, padding=1, use_norm=use_norm)
        self.attention2 = Attention(attention_type, out_channels)

    def forward(self, x: torch.Tensor, size: Sequence[int], skip: torch.Tensor | None = None) -> torch.Tensor:
        x = resize_to(x, size, self.interpolation)
        if skip is not None:
            x = self.attention1(torch.cat([x, skip], dim=1))
        x = self.conv2(self.conv1(x))
        return self.attention2(x)


class UnetCenterBlock(nn.Sequential):
    """Two 3x3 conv-norm-ReLU at the deepest resolution, channels unchanged."""

    def __init__(self, channels: int, use_norm: Any = "batchnorm") -> None:
        super().__init__(
            ConvNormReLU(channels, channels, 3, padding=1, use_norm=use_norm),
            ConvNormReLU(channels, channels, 3, padding=1, use_norm=use_norm),
        )


class UnetDecoder(GradCheckpointing, nn.Module):
    """U-Net decoder: one block per level from the deepest feature up to the input resolution.

    Works with any power-of-two reductions: encoders starting at reduction 4 get smp's
    0-channel placeholder at reduction 2, dilated encoders (repeated reductions) get a block
    that fuses at the same resolution. Output: ``decoder_channels[-1]`` channels at reduction 1.
    ``set_grad_checkpointing(True)`` checkpoints each block in training.
    """

    requires_divisible_input = True  # the last block's size is derived from the first feature

    def __init__(
        self,
        *,
        encoder_channels: Sequence[int],
        encoder_reductions: Sequence[int],
        decoder_channels: Sequence[int],
        decoder_use_norm: Any,
        decoder_attention_type: str | None,
        decoder_interpolation: str,
        decoder_add_center_block: bool,
    ) -> None:
        super().__init__()
        self.levels = SkipLevels("unet", encoder_channels, encoder_reductions)
        channels = fit_decoder_channels(self.levels, decoder_channels)
        head = self.levels.head_channels
        self.center: nn.Module = (
            UnetCenterBlock(head, decoder_use_norm) if decoder_add_center_block else nn.Identity()
        )
        in_channels = (head, *channels[:-1])
        self.blocks = nn.ModuleList(
            UnetBlock(cin, skip, cout, decoder_use_norm, decoder_attention_type, decoder_interpolation)
            for cin, skip, cout in zip(in_channels, self.levels.skip_channels, channels)
        )
        self.out_channels: int = channels[-1]
        self.reduction: int = self.levels.output_reduction
        init_like_smp(self)

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        head, skips, sizes = self.levels.split(features)
        x = self.center(head)
        for block, skip, size in zip(self.blocks, skips, sizes):
            x = self.checkpointed(block, x, size, skip)
        return x
