"""U-Net++ decoder (Zhou et al., 2018): nested, densely connected skips; smp 0.6 layout."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from seghub.checkpointing import GradCheckpointing
from torch import nn

from .._init import init_like_smp
from .._layers import Attention, ConvNormReLU, resize_to
from .._levels import SkipLevels
from ..unet.decoder import fit_decoder_channels

__all__ = ["UnetPlusPlusDecoder", "NestedBlock"]


class NestedBlock(nn.Module):
    """Upsample, concatenate the skip tensors, two 3x3 conv-norm-ReLU (with optional attention).

    A block with 0 output channels (fed by smp's 0-channel placeholder level) has no layers and
    returns an empty tensor of the right size.
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
        self.out_channels = out_channels
        if out_channels == 0:
            return
        self.conv1 = ConvNormReLU(in_channels + skip_channels, out_channels, 3, padding=1, use_norm=use_norm)
        # Built even when no skip arrives (last block), as in smp; unused there.
        self.attention1 = Attention(attention_type, in_channels + skip_channels)
        self.conv2 = ConvNormReLU(out_channels, out_channels, 3, padding=1, use_norm=use_norm)
        self.attention2 = Attention(attention_type, out_channels)

    def forward(self, x: torch.Tensor, size: Sequence[int], skip: torch.Tensor | None = None) -> torch.Tensor:
        x = resize_to(x, size, self.interpolation)
        if self.out_channels == 0:
            return x.new_empty(x.shape[0], 0, *x.shape[-2:])
        if skip is not None:
            x = self.attention1(torch.cat([x, skip], dim=1))
        x = self.conv2(self.conv1(x))
        return self.attention2(x)


class UnetPlusPlusDecoder(GradCheckpointing, nn.Module):
    """U-Net++ decoder: a grid of nested blocks ``x_<column>_<level>`` over the skip levels.

    Level ``l`` (0 = just above the deepest feature) holds blocks ``x_0_l`` ... ``x_l_l``; block
    ``x_d_l`` upsamples ``x_d_(l-1)`` (or, for ``d == l``, the encoder feature) to level ``l`` and
    concatenates ``x_(d+1)_l`` ... ``x_l_l`` and the encoder feature there. The top row ``x_0_*``
    carries ``decoder_channels``; a last block ``x_0_<depth>`` reaches the input resolution.
    Supports power-of-two reductions, starting at 2 or above, including dilated encoders.
    ``set_grad_checkpointing(True)`` checkpoints each nested block in training.
    """

    requires_divisible_input = True

    def __init__(
        self,
        *,
        encoder_channels: Sequence[int],
        encoder_reductions: Sequence[int],
        decoder_channels: Sequence[int],
        decoder_use_norm: Any,
        decoder_attention_type: str | None,
        decoder_interpolation: str,
    ) -> None:
        super().__init__()
        self.levels = SkipLevels("unetplusplus", encoder_channels, encoder_reductions)
        channels = fit_decoder_channels(self.levels, decoder_channels)
        head = self.levels.head_channels
        skip = self.levels.skip_channels
        self.depth = len(channels) - 1
        options = dict(
            use_norm=decoder_use_norm, attention_type=decoder_attention_type, interpolation=decoder_interpolation
        )
        top_in = (head, *channels[:-1])
        blocks: dict[str, NestedBlock] = {}
        for level in range(self.depth):
            for column in range(level + 1):
                if column == 0:
                    cin, cskip, cout = top_in[level], skip[level] * (level + 1), channels[level]
                else:
                    cin, cskip, cout = skip[level - 1], skip[level] * (level + 1 - column), skip[level]
                blocks[f"x_{column}_{level}"] = NestedBlock(cin, cskip, cout, **options)
        blocks[f"x_0_{self.depth}"] = NestedBlock(top_in[-1], 0, channels[-1], **options)
        self.blocks = nn.ModuleDict(blocks)
        self.out_channels: int = channels[-1]
        self.reduction: int = self.levels.output_reduction
        init_like_smp(self)

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        head, skips, sizes = self.levels.split(features)
        # levels[k]: the encoder feature k steps above the deepest (levels[0] is the head).
        levels: list[torch.Tensor] = [head, *(s for s in skips if s is not None)]
        dense: dict[tuple[int, int], torch.Tensor] = {}
        # Same order of evaluation as smp: by diagonal, then along it.
        for step in range(self.depth):
            for column in range(self.depth - step):
                level = column + step
                block = self.blocks[f"x_{column}_{level}"]
                if step == 0:
                    out = self.checkpointed(block, levels[column], sizes[level], levels[level + 1])
                else:
                    parts = [dense[c, level] for c in range(column + 1, level + 1)] + [levels[level + 1]]
                    out = self.checkpointed(block, dense[column, level - 1], sizes[level], torch.cat(parts, dim=1))
                dense[column, level] = out
        top = dense[0, self.depth - 1] if self.depth > 0 else levels[0]
        return self.checkpointed(self.blocks[f"x_0_{self.depth}"], top, sizes[self.depth])
