"""Feature Pyramid Network decoder for segmentation (Kirillov et al., "Panoptic FPN", 2019);
smp 0.6 options and state-dict layout."""

from __future__ import annotations

from collections.abc import Sequence
import torch
import torch.nn.functional as F
from seghub.checkpointing import GradCheckpointing
from torch import nn

from .._init import init_like_smp
from .._layers import resize_to
from .._levels import check_features, format_reductions, is_power_of_two
from .._norms import GroupNorm
from .params import GN_GROUPS

__all__ = ["FPNDecoder"]

PYRAMID_LEVELS = 4

class _Conv3x3GNReLU(nn.Module):
    """3x3 conv -> GroupNorm(32) -> ReLU, then optionally bilinear x2."""

    def __init__(self, in_channels: int, out_channels: int, upsample: bool = False) -> None:
        super().__init__()
        self.upsample = upsample
        self.block = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
            GroupNorm(GN_GROUPS, out_channels),
            nn.ReLU(inplace=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.block(x)
        if self.upsample:
            x = F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=True)
        return x


class _SegmentationBranch(nn.Module):
    """Brings one pyramid level to the finest level: ``max(1, n)`` conv units, ``n`` of them
    upsampling by 2."""

    def __init__(self, in_channels: int, out_channels: int, n_upsamples: int) -> None:
        super().__init__()
        units = [_Conv3x3GNReLU(in_channels, out_channels, upsample=n_upsamples > 0)]
        units += [_Conv3x3GNReLU(out_channels, out_channels, upsample=True) for _ in range(1, n_upsamples)]
        self.block = nn.Sequential(*units)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x)


class _TopDown(nn.Module):
    """Upsample the coarser pyramid map to the skip's size and add the 1x1-projected skip."""

    def __init__(self, pyramid_channels: int, skip_channels: int, interpolation: str = "nearest") -> None:
        super().__init__()
        self.interpolation = interpolation
        self.skip_conv = nn.Conv2d(skip_channels, pyramid_channels, kernel_size=1)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return resize_to(x, skip.shape[-2:], self.interpolation) + self.skip_conv(skip)


class FPNDecoder(GradCheckpointing, nn.Module):
    """FPN decoder on the encoder's four coarsest features (C2-C5).

    Builds P5..P2 top-down, brings each to C2's resolution with a conv branch, merges them
    (sum or concatenation) and applies dropout. Output at C2's reduction (4 for a depth-5 ResNet,
    2 at depth 4). Needs at least four features whose reductions are power-of-two multiples of
    C2's; dilated encoders (repeated reductions) work. ``set_grad_checkpointing(True)``
    checkpoints each top-down step and segmentation branch in training.
    """

    requires_divisible_input = True

    def __init__(
        self,
        *,
        encoder_channels: Sequence[int],
        encoder_reductions: Sequence[int],
        decoder_pyramid_channels: int,
        decoder_segmentation_channels: int,
        decoder_merge_policy: str,
        decoder_dropout: float,
        decoder_interpolation: str,
    ) -> None:
        super().__init__()
        channels, reductions = check_features("fpn", encoder_channels, encoder_reductions)
        if len(channels) < PYRAMID_LEVELS:
            raise ValueError(
                f"fpn builds a {PYRAMID_LEVELS}-level pyramid and needs at least {PYRAMID_LEVELS} encoder features; "
                f"the encoder gives {len(channels)} (reductions {format_reductions(reductions)}); use encoder depth >= 4"
            )
        c2, c3, c4, c5 = channels[-PYRAMID_LEVELS:]
        used = reductions[-PYRAMID_LEVELS:]
        finest = used[0]
        if any(r % finest or not is_power_of_two(r // finest) for r in used):
            raise ValueError(
                f"fpn needs its four features at power-of-two multiples of the finest one's reduction; "
                f"it would use reductions {format_reductions(used)} of the encoder's {format_reductions(reductions)}"
            )
        pyramid, seg = decoder_pyramid_channels, decoder_segmentation_channels
        self.p5 = nn.Conv2d(c5, pyramid, kernel_size=1)
        self.p4 = _TopDown(pyramid, c4, decoder_interpolation)
        self.p3 = _TopDown(pyramid, c3, decoder_interpolation)
        self.p2 = _TopDown(pyramid, c2, decoder_interpolation)
        self.seg_blocks = nn.ModuleList(
            _SegmentationBranch(pyramid, seg, (r // finest).bit_length() - 1) for r in used[::-1]
        )
        self.merge_policy = decoder_merge_policy
        self.dropout = nn.Dropout2d(p=decoder_dropout, inplace=True)
        self.out_channels: int = seg if decoder_merge_policy == "add" else seg * PYRAMID_LEVELS
        self.reduction: int = finest
        init_like_smp(self)

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        c2, c3, c4, c5 = features[-PYRAMID_LEVELS:]
        p5 = self.p5(c5)
        p4 = self.checkpointed(self.p4, p5, c4)
        p3 = self.checkpointed(self.p3, p4, c3)
        p2 = self.checkpointed(self.p2, p3, c2)
        branches = [self.checkpointed(block, p) for block, p in zip(self.seg_blocks, (p5, p4, p3, p2))]
        x = torch.stack(branches).sum(dim=0) if self.merge_policy == "add" else torch.cat(branches, dim=1)
        return self.dropout(x)
