"""``mobilenet_lite``: a MobileNetV2-style encoder of inverted residual blocks.

Five stages end at reductions 2, 4, 8, 16 and 32; ``depth`` keeps the first ``depth`` of them.
Output stride 16 or 8 replaces the later strides by dilation, so the feature sizes stop
shrinking while the receptive field keeps growing.
"""

from __future__ import annotations

import os
from typing import Any

import torch
from torch import nn

from seghub.errors import WeightsError
from seghub.weights import adapt_input_conv, load_state_dict

__all__ = ["MobileNetLite", "InvertedResidual", "build_encoder"]

STEM_CHANNELS = 32
# per stage: (expand ratio, channels, blocks, stride) groups; stage i ends at reduction 2**(i+1)
STAGES: tuple[tuple[tuple[int, int, int, int], ...], ...] = (
    ((1, 16, 1, 1),),  # after the stride-2 stem
    ((6, 24, 2, 2),),
    ((6, 32, 3, 2),),
    ((6, 64, 4, 2), (6, 96, 3, 1)),
    ((6, 160, 3, 2), (6, 320, 1, 1)),
)
OUTPUT_STRIDES = (8, 16, 32)


def _round(channels: float, divisor: int = 8) -> int:
    """MobileNet's channel rounding: to a multiple of ``divisor``, never 10 % below."""
    rounded = max(divisor, int(channels + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * channels else rounded


def _conv_bn(in_ch: int, out_ch: int, kernel: int, *, stride: int = 1, dilation: int = 1, groups: int = 1, act: bool = True) -> nn.Sequential:
    layers: list[nn.Module] = [
        nn.Conv2d(in_ch, out_ch, kernel, stride, padding=dilation * (kernel // 2), dilation=dilation, groups=groups, bias=False),
        nn.BatchNorm2d(out_ch),
    ]
    if act:
        layers.append(nn.ReLU6(inplace=True))
    return nn.Sequential(*layers)


class InvertedResidual(nn.Module):
    """1x1 expand, 3x3 depthwise (strided or dilated), 1x1 linear projection; residual when shapes allow."""

    def __init__(self, in_ch: int, out_ch: int, *, stride: int, expand: int, dilation: int = 1) -> None:
        super().__init__()
        hidden = in_ch * expand
        layers = [] if expand == 1 else [_conv_bn(in_ch, hidden, 1)]
        layers += [
            _conv_bn(hidden, hidden, 3, stride=stride, dilation=dilation, groups=hidden),
            _conv_bn(hidden, out_ch, 1, act=False),
        ]
        self.block = nn.Sequential(*layers)
        self.residual = stride == 1 and in_ch == out_ch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.block(x)
        return x + out if self.residual else out


class MobileNetLite(nn.Module):
    """The encoder: ``forward`` returns one feature per stage, fine to coarse."""

    def __init__(self, *, in_channels: int = 3, depth: int = 5, output_stride: int = 32, width_multiplier: float = 1.0) -> None:
        super().__init__()
        self.in_channels = in_channels
        channels = _round(STEM_CHANNELS * width_multiplier)
        reduction, dilation = 2, 1
        stages, out_channels, reductions = [], [], []
        for index, groups in enumerate(STAGES[:depth]):
            blocks: list[nn.Module] = [_conv_bn(in_channels, channels, 3, stride=2)] if index == 0 else []
            for expand, width, count, first_stride in groups:
                out = _round(width * width_multiplier)
                for i in range(count):
                    stride = first_stride if i == 0 else 1
                    if stride > 1 and reduction * stride > output_stride:
                        dilation, stride = dilation * stride, 1  # dilate instead of striding
                    elif stride > 1:
                        reduction *= stride
                    blocks.append(InvertedResidual(channels, out, stride=stride, expand=expand, dilation=dilation))
                    channels = out
            stages.append(nn.Sequential(*blocks))
            out_channels.append(channels)
            reductions.append(reduction)
        self.stages = nn.ModuleList(stages)
        self.out_channels = tuple(out_channels)
        self.reductions = tuple(reductions)
        self._init_weights()

    def _init_weights(self) -> None:
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        features = []
        for stage in self.stages:
            x = stage(x)
            features.append(x)
        return features


def build_encoder(
    *,
    name: str,
    in_channels: int = 3,
    depth: int = 5,
    output_stride: int = 32,
    weights: str | os.PathLike[str] | None = None,
    width_multiplier: float,
) -> MobileNetLite:
    """The factory seghub calls. ``weights``: None, or the path of a ``.safetensors`` file saved
    from a ``mobilenet_lite`` of the same width (any depth; other in_channels are adapted).
    ``width_multiplier`` comes validated from :class:`~seghub_example_encoder.params.MobileNetLiteParams`,
    which holds its default."""
    if not 1 <= depth <= len(STAGES):
        raise ValueError(f"depth must be 1..{len(STAGES)} for encoder {name!r}, got {depth}")
    if output_stride not in OUTPUT_STRIDES:
        raise ValueError(f"output_stride must be one of {OUTPUT_STRIDES} for encoder {name!r}, got {output_stride}")
    if in_channels < 1:
        raise ValueError(f"in_channels must be a positive integer, got {in_channels}")
    encoder = MobileNetLite(
        in_channels=in_channels, depth=depth, output_stride=output_stride, width_multiplier=width_multiplier
    )
    if weights is not None:
        _load(encoder, name, weights)
    return encoder


def _load(encoder: MobileNetLite, name: str, weights: str | os.PathLike[str]) -> None:
    if not str(weights).endswith(".safetensors"):
        raise WeightsError(
            f"encoder {name!r} has no pretrained weights tags (got {str(weights)!r}); available: none. "
            "Give the path of a .safetensors file, or weights=None"
        )
    state: dict[str, Any] = load_state_dict(weights, encoder=name, tag=str(weights))
    stem = "stages.0.0.0.weight"
    if stem in state:
        state[stem] = adapt_input_conv(state[stem], encoder.in_channels)
    own = encoder.state_dict()
    missing = sorted(set(own) - set(state))
    if missing:
        raise WeightsError(f"{str(weights)!r} lacks {len(missing)} tensors of encoder {name!r}, e.g. {missing[0]!r}")
    try:
        encoder.load_state_dict({key: state[key] for key in own})  # later stages of a deeper file are dropped
    except RuntimeError as exc:
        raise WeightsError(f"{str(weights)!r} does not fit encoder {name!r}: {exc}") from exc
