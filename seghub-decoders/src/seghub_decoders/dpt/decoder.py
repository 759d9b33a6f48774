"""DPT, the Dense Prediction Transformer decoder (Ranftl et al. 2021).

Each encoder feature optionally reads out the ViT's prefix (class) token, is reassembled to
reduction ``4 * 2**i`` and projected to ``decoder_fusion_channels``; fusion blocks then merge
the features deepest first, each upsampling to the next finer one, and a final
conv-BN-ReLU-dropout block gives the segmentation head a map at reduction 2.

Submodule names follow segmentation_models_pytorch 0.6 (``projection_blocks``,
``reassemble_blocks``, ``fusion_blocks``). smp's ``DPTSegmentationHead`` is split: its
conv-BN-ReLU-dropout part is this decoder's ``head_block``, its final 1x1 conv is seghub's
generic segmentation head (``kernel_size`` 1, upsampling 2); :func:`convert_smp_state_dict`
moves those keys.

Prefix tokens: the decoder declares ``uses_prefix_tokens = True``; the model then calls
``decoder(features, prefix_tokens)`` with ``prefix_tokens`` from the encoder's
``forward_with_tokens`` (None when the encoder has none), and the builder passes the
encoder's ``num_prefix_tokens`` as ``encoder_prefix_tokens``.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from fractions import Fraction
import torch
import torch.nn.functional as F
from seghub.checkpointing import GradCheckpointing
from torch import nn

from .._init import init_like_smp
from .._layers import ByteMaskDropout
from .._levels import check_features, format_reductions
from .params import DEFAULT_INTERMEDIATE_CHANNELS

__all__ = ["DPTDecoder", "convert_smp_state_dict", "fit_intermediate_channels"]

OUTPUT_REDUCTION = 2
HEAD_DROPOUT = 0.1


# --------------------------------------------------------------------------- readout


class _Readout(nn.Module):
    """Base of the readout blocks: ``forward(feature, prefix_tokens or None)``."""

    def forward(self, feature: torch.Tensor, tokens: torch.Tensor | None = None) -> torch.Tensor:
        return feature


class _ReadoutConcat(_Readout):
    """Concatenate the first prefix token to every position, then linear + GELU back to C.

    Without prefix tokens the linear + GELU still runs on the feature alone (as in smp).
    """

    def __init__(self, channels: int, with_token: bool) -> None:
        super().__init__()
        self.project = nn.Sequential(nn.Linear(channels * (2 if with_token else 1), channels), nn.GELU())

    def forward(self, feature: torch.Tensor, tokens: torch.Tensor | None = None) -> torch.Tensor:
        batch, channels, height, width = feature.shape
        x = feature.flatten(2).transpose(1, 2)  # (B, HW, C)
        if tokens is not None:
            x = torch.cat([x, tokens[:, :1].expand(-1, x.shape[1], -1)], dim=2)
        x = self.project(x)
        return x.transpose(1, 2).reshape(batch, channels, height, width)


class _ReadoutAdd(_Readout):
    """Add the mean of the prefix tokens to every position."""

    def forward(self, feature: torch.Tensor, tokens: torch.Tensor | None = None) -> torch.Tensor:
        if tokens is None:
            return feature
        return feature + tokens.mean(dim=1)[:, :, None, None]


# --------------------------------------------------------------------------- reassemble


def _resampler(channels: int, factor: Fraction) -> nn.Module:
    """Scale a map by ``factor`` (an integer or the inverse of one)."""
    if factor == 1:
        return nn.Identity()
    if factor > 1:
        step = int(factor)
        return nn.ConvTranspose2d(channels, channels, kernel_size=step, stride=step)
    return nn.Conv2d(channels, channels, kernel_size=3, stride=factor.denominator, padding=1)


class _Reassemble(nn.Module):
    """1x1 conv to ``mid`` channels, resample to the target reduction, 3x3 conv to ``out``."""

    def __init__(self, in_channels: int, mid_channels: int, out_channels: int, factor: Fraction) -> None:
        super().__init__()
        self.project_to_out_channel = nn.Conv2d(in_channels, mid_channels, kernel_size=1)
        self.upsample = _resampler(mid_channels, factor)
        self.project_to_feature_dim = nn.Conv2d(mid_channels, out_channels, kernel_size=3, padding=1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.project_to_feature_dim(self.upsample(self.project_to_out_channel(x)))


# --------------------------------------------------------------------------- fusion


class _ResidualUnit(nn.Module):
    """``x + BN(conv(relu(BN(conv(relu(x))))))`` with 3x3 convolutions."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv_1 = nn.Conv2d(channels, channels, kernel_size=3, padding=1, bias=False)
        self.batch_norm_1 = nn.BatchNorm2d(channels)
        self.conv_2 = nn.Conv2d(channels, channels, kernel_size=3, padding=1, bias=False)
        self.batch_norm_2 = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.batch_norm_1(self.conv_1(F.relu(x)))
        y = self.batch_norm_2(self.conv_2(F.relu(y)))
        return x + y


class _Fusion(nn.Module):
    """Refine a feature, add the coarser fused map, refine again, 1x1 conv, upsample (smp applies
    the 1x1 conv after upsampling; the result is the same)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.residual_conv_block1 = _ResidualUnit(channels)
        self.residual_conv_block2 = _ResidualUnit(channels)
        self.project = nn.Conv2d(channels, channels, kernel_size=1)

    def forward(self, feature: torch.Tensor, coarser: torch.Tensor | None, size: tuple[int, int]) -> torch.Tensor:
        x = self.residual_conv_block1(feature)
        if coarser is not None:
            x = x + coarser
        x = self.residual_conv_block2(x)
        # the 1x1 projection and bilinear resizing commute (both linear, the resizing weights sum
        # to one): projecting first is the same function at a quarter of the cost and memory
        return F.interpolate(self.project(x), size=size, mode="bilinear", align_corners=True)


# --------------------------------------------------------------------------- decoder


class DPTDecoder(GradCheckpointing, nn.Module):
    """DPT decoder: readout, reassemble to reductions 4, 8, 16, ..., fuse, refine.

    Works with any encoder whose i-th feature can be brought to reduction ``4 * 2**i`` by an
    integer up- or downsampling: plain ViTs (all features at 16, or 8, ...) as in the paper,
    and pyramids such as ConvNeXt's (4, 8, 16, 32). The output is at reduction 2.
    ``set_grad_checkpointing(True)`` checkpoints each reassemble and fusion block and the head
    block in training.
    """

    requires_divisible_input = True
    uses_prefix_tokens = True

    def __init__(
        self,
        *,
        encoder_channels: Sequence[int],
        encoder_reductions: Sequence[int],
        decoder_readout: str,
        decoder_intermediate_channels: Sequence[int],
        decoder_fusion_channels: int,
        encoder_prefix_tokens: int = 0,
    ) -> None:
        super().__init__()
        channels, reductions = check_features("DPT", encoder_channels, encoder_reductions)
        intermediate = fit_intermediate_channels(decoder_intermediate_channels, len(channels))
        if len(intermediate) != len(channels):
            raise ValueError(
                f"DPT: decoder_intermediate_channels has {len(intermediate)} entries {intermediate} but the "
                f"encoder gives {len(channels)} features (reductions {format_reductions(reductions)}); give one "
                "per feature, fine to coarse, or change the encoder depth"
            )
        factors = _reassemble_factors(reductions)
        self._readout = decoder_readout
        self._with_tokens = encoder_prefix_tokens > 0
        if self._readout != "ignore" and not self._with_tokens:
            warnings.warn(
                f"DPT: decoder_readout={self._readout!r} but the encoder gives no prefix (class) tokens; "
                "decoder_readout='ignore' is the natural choice for such encoders",
                UserWarning,
                stacklevel=2,
            )
        width = decoder_fusion_channels
        self.projection_blocks = nn.ModuleList(self._readout_block(c) for c in channels)
        self.reassemble_blocks = nn.ModuleList(
            _Reassemble(c, mid, width, f) for c, mid, f in zip(channels, intermediate, factors)
        )
        self.fusion_blocks = nn.ModuleList(_Fusion(width) for _ in channels)  # deepest first
        self.head_block = nn.Sequential(
            nn.Conv2d(width, width, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
            ByteMaskDropout(p=HEAD_DROPOUT),
        )
        self.out_channels: int = width
        self.reduction: int = OUTPUT_REDUCTION
        init_like_smp(self)
        nn.init.xavier_uniform_(self.head_block[0].weight)  # smp initialises it as a head layer

    def _readout_block(self, channels: int) -> _Readout:
        if self._readout == "cat":
            return _ReadoutConcat(channels, self._with_tokens)
        return _ReadoutAdd() if self._readout == "add" else _Readout()

    def forward(self, features: list[torch.Tensor], prefix_tokens: list[torch.Tensor] | None = None) -> torch.Tensor:
        """Fuse ``features`` (fine to coarse); ``prefix_tokens[i]`` is ``(B, tokens, C_i)`` or None."""
        tokens = prefix_tokens if self._with_tokens else None
        processed = []
        for i, (readout, reassemble) in enumerate(zip(self.projection_blocks, self.reassemble_blocks)):
            feature = readout(features[i], None if tokens is None else tokens[i])
            processed.append(self.checkpointed(reassemble, feature))
        fused: torch.Tensor | None = None
        last = len(processed) - 1
        for k, fusion in enumerate(self.fusion_blocks):
            i = last - k
            height, width = processed[i].shape[-2:]
            size = processed[i - 1].shape[-2:] if i > 0 else (height * 2, width * 2)
            fused = self.checkpointed(fusion, processed[i], fused, (size[0], size[1]))
        assert fused is not None
        return self.checkpointed(self.head_block, fused)

    @staticmethod
    def smp_model_state_dict_to_seghub(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """A whole smp DPT model's state dict in seghub's layout; see :func:`convert_smp_state_dict`."""
        return convert_smp_state_dict(state_dict)


def fit_intermediate_channels(channels: Sequence[int], features: int) -> tuple[int, ...]:
    """``decoder_intermediate_channels`` for ``features`` encoder features.

    The default, (256, 512, 1024, 1024) for a ViT's four features, adapts to other counts (a
    CNN's five, a shallower encoder's three) by its own rule: feature ``i`` gets
    ``min(256 * 2**i, 1024)`` channels. Any other value is taken as it is.
    """
    values = tuple(int(c) for c in channels)
    if values == DEFAULT_INTERMEDIATE_CHANNELS and features != len(values):
        return tuple(min(256 * 2**i, 1024) for i in range(features))
    return values


def _reassemble_factors(reductions: Sequence[int]) -> list[Fraction]:
    """The scale taking feature ``i`` from its reduction to ``4 * 2**i``; refuse non-integer ones."""
    factors = []
    for i, reduction in enumerate(reductions):
        target = 4 * 2**i
        factor = Fraction(reduction, target)
        if factor.denominator != 1 and factor.numerator != 1:
            raise ValueError(
                f"DPT brings feature {i} from reduction {reduction} to reduction {target} by an integer up- or "
                f"downsampling, and {reduction}/{target} is neither an integer nor the inverse of one; the "
                f"encoder's reductions are {format_reductions(reductions)} (a ViT's patch size must be a power of two)"
            )
        factors.append(factor)
    return factors


_SMP_HEAD_KEYS = {
    "segmentation_head.head.0.": "decoder.head_block.0.",
    "segmentation_head.head.1.": "decoder.head_block.1.",
    "segmentation_head.head.4.": "segmentation_head.0.",
}


def convert_smp_state_dict(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename an smp 0.6 ``DPT`` model's state dict into seghub's layout (tensors not copied).

    Decoder keys are the same; smp's ``DPTSegmentationHead`` keys move:
    ``segmentation_head.head.0`` (3x3 conv) and ``.head.1`` (batch norm) become
    ``decoder.head_block.0`` / ``.1``, and ``segmentation_head.head.4`` (1x1 conv) becomes
    ``segmentation_head.0``. Other keys pass unchanged (the ViT encoder drops the parts smp keeps
    but never runs with its own ``smp_state_dict_to_seghub``).
    """
    converted: dict[str, torch.Tensor] = {}
    for key, value in state_dict.items():
        for old, new in _SMP_HEAD_KEYS.items():
            if key.startswith(old):
                key = new + key[len(old):]
                break
        converted[key] = value
    return converted
