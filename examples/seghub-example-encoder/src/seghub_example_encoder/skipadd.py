"""``skipadd``: a light top-down decoder.

Every encoder feature is projected to ``decoder_channels`` by a 1x1 conv; starting from the
coarsest, each map is upsampled to the next finer one and added to it; a 3x3 conv smooths the
sum. The output keeps the finest feature's reduction.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["SkipAddDecoder"]


def _conv_bn_relu(in_ch: int, out_ch: int, kernel: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_ch, out_ch, kernel, padding=kernel // 2, bias=False),
        nn.BatchNorm2d(out_ch),
        nn.ReLU(inplace=True),
    )


class SkipAddDecoder(nn.Module):
    """The decoder seghub builds: ``SkipAddDecoder(encoder_channels=..., encoder_reductions=..., **params)``."""

    # The head upsamples by ``reduction``, so the input must divide by the encoder's reductions
    # (True is the default; a decoder that resizes to the input itself may set False).
    requires_divisible_input = True

    def __init__(
        self, *, encoder_channels: Sequence[int], encoder_reductions: Sequence[int], decoder_channels: int
    ) -> None:
        super().__init__()
        if not encoder_channels or len(encoder_channels) != len(encoder_reductions):
            raise ValueError(
                f"skipadd needs one reduction per encoder feature and at least one feature; got channels "
                f"{tuple(encoder_channels)} and reductions {tuple(encoder_reductions)}"
            )
        self.laterals = nn.ModuleList(_conv_bn_relu(c, decoder_channels, 1) for c in encoder_channels)
        self.smooth = _conv_bn_relu(decoder_channels, decoder_channels, 3)
        self.out_channels = decoder_channels
        self.reduction = int(encoder_reductions[0])

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        x = self.laterals[-1](features[-1])
        for lateral, feature in zip(reversed(self.laterals[:-1]), reversed(features[:-1])):
            x = F.interpolate(x, size=feature.shape[-2:], mode="bilinear", align_corners=False) + lateral(feature)
        return self.smooth(x)
