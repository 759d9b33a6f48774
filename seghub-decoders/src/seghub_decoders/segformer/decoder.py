"""SegFormer's all-MLP decoder (Xie et al. 2021).

Each encoder feature goes through a per-pixel linear layer, is resized to reduction 4, and the
concatenation is fused by a 1x1 conv-BN-ReLU. Submodule names follow segmentation_models_pytorch
0.6 (``mlp_stage.<i>.linear``, coarsest feature first; ``fuse_stage``).

The forward pass computes the same function in a cheaper order. The per-feature linear layer and
the fusing 1x1 convolution are both linear per pixel, and bilinear resizing is a per-channel
weighted average, so they commute: each feature's share of the fused map is one merged linear map
(fuse-conv slice times MLP weight), applied at the coarser of the feature's and the output's
resolution, then resized; the shares are summed instead of concatenated. The 1024-channel
concatenation at reduction 4 and the 256-channel MLP output at reduction 2 are never built, which
saves most of the decoder's activation memory and compute. Results equal the reference
formulation up to float rounding (smp parity is tested).
"""

from __future__ import annotations

from collections.abc import Sequence
import torch
import torch.nn.functional as F
from seghub.checkpointing import GradCheckpointing
from torch import nn

from .._init import init_like_smp
from .._layers import ConvNormReLU, resize_bilinear
from .._levels import check_features, format_reductions

__all__ = ["SegformerDecoder"]

OUTPUT_REDUCTION = 4


class MLP(nn.Module):
    """The per-pixel linear layer of one feature (smp's key layout); the decoder applies it merged
    with its slice of the fusing convolution, see :meth:`merged_with`."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.linear = nn.Linear(in_channels, out_channels)

    def merged_with(self, fuse_weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Weight ``(out, in, 1, 1)`` and bias of ``x -> fuse_weight @ linear(x)`` as a 1x1 conv;
        ``fuse_weight`` is ``(out, mlp_out)``."""
        weight = fuse_weight @ self.linear.weight
        return weight[:, :, None, None], fuse_weight @ self.linear.bias


class SegformerDecoder(GradCheckpointing, nn.Module):
    """SegFormer head: every encoder feature, projected and fused at reduction 4.

    ``set_grad_checkpointing(True)`` checkpoints each feature's share of the fusion and its
    normalisation in training.
    """

    requires_divisible_input = True

    def __init__(
        self,
        *,
        encoder_channels: Sequence[int],
        encoder_reductions: Sequence[int],
        decoder_segmentation_channels: int,
    ) -> None:
        super().__init__()
        channels, reductions = check_features("Segformer", encoder_channels, encoder_reductions)
        if reductions[-1] < 8:
            raise ValueError(
                "Segformer needs encoder features down to reduction 8 or coarser (smp: encoder "
                f"depth >= 3); the encoder's reductions are {format_reductions(reductions)}"
            )
        width = decoder_segmentation_channels
        self._first_reduction = reductions[0]
        self._reductions = reductions[::-1]  # in mlp_stage order
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
        fuse_weights = self.fuse_stage[0].weight.flatten(1).split(self.out_channels, dim=1)  # concatenation order
        fused: torch.Tensor | None = None
        for mlp, fuse_weight, feature, reduction in zip(self.mlp_stage, fuse_weights, features[::-1], self._reductions):
            share = self.checkpointed(self._share, mlp, fuse_weight, feature, reduction, size)
            fused = share if fused is None else fused + share
        assert fused is not None
        return self.checkpointed(self.fuse_stage.normalize, fused)

    def _share(
        self,
        mlp: MLP, fuse_weight: torch.Tensor, feature: torch.Tensor, reduction: int, size: tuple[int, int]
    ) -> torch.Tensor:
        """One feature's term of the fusing convolution, at the output resolution."""
        weight, bias = mlp.merged_with(fuse_weight)
        if reduction < OUTPUT_REDUCTION:  # finer than the output: shrink first, it is cheaper
            feature = resize_bilinear(feature, size)
        share = F.conv2d(feature, weight, bias)
        return resize_bilinear(share, size) if reduction > OUTPUT_REDUCTION else share
