"""DeepLabV3 and DeepLabV3+ decoders: atrous spatial pyramid pooling (ASPP) on the coarsest feature.

Submodule names follow segmentation_models_pytorch 0.6, so its decoder state dicts load as they are.
The encoder's output stride (8 or 16, reached with dilation) is the spec's
``encoder.output_stride``, not a decoder parameter.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from seghub.checkpointing import GradCheckpointing
from torch import nn

from .._levels import check_features, format_reductions

__all__ = ["DeepLabV3Decoder", "DeepLabV3PlusDecoder", "ASPP", "SeparableConv2d"]

HIGHRES_CHANNELS = 48
"""Channels the DeepLabV3+ skip at reduction 4 is projected to (the paper's choice)."""


def _conv_bn_relu(conv: nn.Module, channels: int) -> list[nn.Module]:
    return [conv, nn.BatchNorm2d(channels), nn.ReLU()]


class SeparableConv2d(nn.Sequential):
    """A depthwise convolution (no bias) followed by a pointwise 1x1 convolution."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        *,
        padding: int = 0,
        dilation: int = 1,
        bias: bool = True,
    ) -> None:
        super().__init__(
            nn.Conv2d(
                in_channels,
                in_channels,
                kernel_size,
                padding=padding,
                dilation=dilation,
                groups=in_channels,
                bias=False,
            ),
            nn.Conv2d(in_channels, out_channels, kernel_size=1, bias=bias),
        )


class _ImagePooling(nn.Sequential):
    """Global average pool, 1x1 conv-BN-ReLU, then broadcast back to the input's size."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(
            nn.AdaptiveAvgPool2d(1),
            *_conv_bn_relu(nn.Conv2d(in_channels, out_channels, kernel_size=1, bias=False), out_channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = super().forward(x)
        return F.interpolate(pooled, size=x.shape[-2:], mode="bilinear", align_corners=False)


class ASPP(nn.Module):
    """Five parallel branches (1x1, three atrous 3x3, image pooling), concatenated and projected."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        atrous_rates: Sequence[int],
        *,
        separable: bool,
        dropout: float,
    ) -> None:
        super().__init__()
        if len(atrous_rates) != 3:
            raise ValueError(f"ASPP takes exactly three atrous rates, got {tuple(atrous_rates)}")
        branches: list[nn.Module] = [
            nn.Sequential(
                *_conv_bn_relu(nn.Conv2d(in_channels, out_channels, kernel_size=1, bias=False), out_channels)
            )
        ]
        for rate in atrous_rates:
            conv: nn.Module
            if separable:
                conv = SeparableConv2d(
                    in_channels, out_channels, 3, padding=rate, dilation=rate, bias=False
                )
            else:
                conv = nn.Conv2d(
                    in_channels, out_channels, 3, padding=rate, dilation=rate, bias=False
                )
            branches.append(nn.Sequential(*_conv_bn_relu(conv, out_channels)))
        branches.append(_ImagePooling(in_channels, out_channels))
        self.convs = nn.ModuleList(branches)
        self.project = nn.Sequential(
            *_conv_bn_relu(
                nn.Conv2d(len(branches) * out_channels, out_channels, kernel_size=1, bias=False),
                out_channels,
            ),
            nn.Dropout(dropout),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.project(torch.cat([branch(x) for branch in self.convs], dim=1))


class DeepLabV3Decoder(GradCheckpointing, nn.Module):
    """DeepLabV3: ASPP and a 3x3 conv-BN-ReLU on the coarsest encoder feature.

    The output keeps that feature's reduction (8 at output stride 8).
    ``set_grad_checkpointing(True)`` checkpoints the ASPP in training.
    """

    requires_divisible_input = True

    def __init__(
        self,
        *,
        encoder_channels: Sequence[int],
        encoder_reductions: Sequence[int],
        decoder_channels: int,
        decoder_atrous_rates: Sequence[int],
        decoder_aspp_separable: bool,
        decoder_aspp_dropout: float,
    ) -> None:
        super().__init__()
        channels, reductions = check_features("DeepLabV3", encoder_channels, encoder_reductions)
        width = decoder_channels
        self.aspp = ASPP(
            channels[-1], width, decoder_atrous_rates, separable=decoder_aspp_separable, dropout=decoder_aspp_dropout
        )
        self.conv = nn.Conv2d(width, width, kernel_size=3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(width)
        self.relu = nn.ReLU()
        self.out_channels: int = width
        self.reduction: int = reductions[-1]

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        return self.relu(self.bn(self.conv(self.checkpointed(self.aspp, features[-1]))))


class DeepLabV3PlusDecoder(GradCheckpointing, nn.Module):
    """DeepLabV3+: ASPP on the coarsest feature, upsampled and fused with the feature at reduction 4.

    Needs an encoder feature at reduction 4 and a coarser last feature; the output is at
    reduction 4. ``set_grad_checkpointing(True)`` checkpoints the ASPP and both blocks in training.
    """

    requires_divisible_input = True

    def __init__(
        self,
        *,
        encoder_channels: Sequence[int],
        encoder_reductions: Sequence[int],
        decoder_channels: int,
        decoder_atrous_rates: Sequence[int],
        decoder_aspp_separable: bool,
        decoder_aspp_dropout: float,
    ) -> None:
        super().__init__()
        channels, reductions = check_features("DeepLabV3+", encoder_channels, encoder_reductions)
        if 4 not in reductions:
            raise ValueError(
                "DeepLabV3+ needs a high-resolution encoder feature at reduction 4 for its skip "
                f"connection; the encoder's reductions are {format_reductions(reductions)}"
            )
        if reductions[-1] < 8:
            raise ValueError(
                "DeepLabV3+ needs a coarse encoder feature (reduction 8 or more) for ASPP besides "
                f"the skip at reduction 4 (smp: encoder depth >= 3); the encoder's reductions are "
                f"{format_reductions(reductions)}"
            )
        self._skip_index = reductions.index(4)
        width = decoder_channels
        self.aspp = nn.Sequential(
            ASPP(
                channels[-1], width, decoder_atrous_rates, separable=decoder_aspp_separable,
                dropout=decoder_aspp_dropout,
            ),
            *_conv_bn_relu(SeparableConv2d(width, width, 3, padding=1, bias=False), width),
        )
        self.block1 = nn.Sequential(
            *_conv_bn_relu(
                nn.Conv2d(channels[self._skip_index], HIGHRES_CHANNELS, kernel_size=1, bias=False),
                HIGHRES_CHANNELS,
            )
        )
        self.block2 = nn.Sequential(
            *_conv_bn_relu(
                SeparableConv2d(HIGHRES_CHANNELS + width, width, 3, padding=1, bias=False), width
            )
        )
        self.out_channels: int = width
        self.reduction: int = 4

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        skip = self.checkpointed(self.block1, features[self._skip_index])
        context = self.checkpointed(self.aspp, features[-1])
        context = F.interpolate(context, size=skip.shape[-2:], mode="bilinear", align_corners=True)
        return self.checkpointed(self.block2, torch.cat([context, skip], dim=1))
