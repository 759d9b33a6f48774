"""SegFormer's all-MLP decoder (Xie et al. 2021).

Each encoder feature goes through a per-pixel linear layer, is resized to reduction 4, and the
concatenation is fused by a 1x1 conv-BN-ReLU. Submodule names follow segmentation_models_pytorch
0.6 (``mlp_stage.<i>.linear``, coarsest feature first; ``fuse_stage``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

import torch
import torch.nn.functional as F
from pydantic import Field
from seghub.checkpointing import GradCheckpointing
from torch import nn

from ._blocks import ConvNormReLU, DecoderParams, check_features, format_reductions, init_like_smp

__all__ = ["SegformerParams", "SegformerDecoder"]

OUTPUT_REDUCTION = 4


class SegformerParams(DecoderParams):
    """Options of the SegFormer decoder (smp's names and defaults)."""

    decoder_segmentation_channels: Annotated[int, Field(strict=True, gt=0)] = Field(
        256, description="Channels of each per-feature MLP and of the fused output."
    )


class MLP(nn.Module):
    """A linear layer applied to every pixel's channel vector (NCHW in and out)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.linear = nn.Linear(in_channels, out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, _, height, width = x.shape
        x = self.linear(x.flatten(2).transpose(1, 2))
        return x.transpose(1, 2).reshape(batch, -1, height, width)


class SegformerDecoder(GradCheckpointing, nn.Module):
    """SegFormer head: every encoder feature, projected and fused at reduction 4.

    ``set_grad_checkpointing(True)`` checkpoints each MLP and the fusion in training.
    """

    requires_divisible_input = True

    def __init__(
        self,
        *,
        encoder_channels: Sequence[int],
        encoder_reductions: Sequence[int],
        decoder_segmentation_channels: int = 256,
    ) -> None:
        super().__init__()
        params = SegformerParams(decoder_segmentation_channels=decoder_segmentation_channels)
        channels, reductions = check_features("Segformer", encoder_channels, encoder_reductions)
        if reductions[-1] < 8:
            raise ValueError(
                "Segformer needs encoder features down to reduction 8 or coarser (smp: encoder "
                f"depth >= 3); the encoder's reductions are {format_reductions(reductions)}"
            )
        width = params.decoder_segmentation_channels
        self._first_reduction = reductions[0]
        self.mlp_stage = nn.ModuleList([MLP(c, width) for c in channels[::-1]])
        self.fuse_stage = ConvNormReLU(len(channels) * width, width, kernel_size=1, use_norm="batchnorm")
        self.out_channels: int = width
        self.reduction: int = OUTPUT_REDUCTION
        init_like_smp(self)

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        height, width = features[0].shape[-2:]
        size = (
            height * self._first_reduction // OUTPUT_REDUCTION,
            width * self._first_reduction // OUTPUT_REDUCTION,
        )
        resized = [
            F.interpolate(self.checkpointed(mlp, feature), size=size, mode="bilinear", align_corners=False)
            for mlp, feature in zip(self.mlp_stage, features[::-1])
        ]
        return self.checkpointed(self.fuse_stage, torch.cat(resized, dim=1))
