"""A synthetic encoder with any channels and reductions, to check decoders without a real backbone.

It is registered in-process, as encoder :data:`SYNTHETIC_ENCODER`, only while a decoder check runs.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import torch
from pydantic import BaseModel, ConfigDict, PositiveInt, model_validator
from torch import nn

from ..plugins import Registry, get_hub, hookimpl
from ..errors import PluginError

__all__ = ["SYNTHETIC_ENCODER", "SyntheticParams", "SyntheticEncoder", "synthetic_encoder", "synthetic_registered"]

SYNTHETIC_ENCODER = "seghub-testing-synthetic"
_PLUGIN_NAME = "seghub.testing"


class SyntheticParams(BaseModel):
    """``encoder.params`` of the synthetic encoder: one channel count and one reduction per level."""

    model_config = ConfigDict(extra="forbid")

    channels: tuple[PositiveInt, ...] = (8, 16, 24, 32, 48)
    reductions: tuple[PositiveInt, ...] = (2, 4, 8, 16, 32)

    @model_validator(mode="after")
    def _check(self) -> SyntheticParams:
        if len(self.channels) != len(self.reductions):
            raise ValueError(f"channels {self.channels} and reductions {self.reductions} need one entry per level")
        if any(r & (r - 1) for r in self.reductions):
            raise ValueError(f"reductions must be powers of two, got {self.reductions}")
        if list(self.reductions) != sorted(self.reductions):
            raise ValueError(f"reductions must not decrease, got {self.reductions}")
        return self


class SyntheticEncoder(nn.Module):
    """Conv-BN-ReLU stages, one per level; a stage strides by the ratio of its reduction to the
    previous one (3x3 kernels, so a map is ``ceil(size / reduction)``)."""

    def __init__(self, in_channels: int, channels: Sequence[int], reductions: Sequence[int]) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = tuple(channels)
        self.reductions = tuple(reductions)
        stages, previous_channels, previous_reduction = [], in_channels, 1
        for out, reduction in zip(self.out_channels, self.reductions):
            stride = reduction // previous_reduction
            stages.append(
                nn.Sequential(
                    nn.Conv2d(previous_channels, out, 3, stride=stride, padding=1, bias=False),
                    nn.BatchNorm2d(out),
                    nn.ReLU(inplace=True),
                )
            )
            previous_channels, previous_reduction = out, reduction
        self.stages = nn.ModuleList(stages)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        features = []
        for stage in self.stages:
            x = stage(x)
            features.append(x)
        return features


def build_synthetic(
    *, name: str, in_channels: int, depth: int, output_stride: int, weights: str | None, **params: Any
) -> SyntheticEncoder:
    """The encoder factory: the first ``depth`` levels (all when there are fewer), reductions
    capped at ``output_stride``."""
    options = SyntheticParams.model_validate(params)
    if weights is not None:
        raise ValueError(f"encoder {name!r} has no pretrained weights; set weights to null")
    levels = min(depth, len(options.reductions))  # depth bounds the levels used
    reductions = [min(r, output_stride) for r in options.reductions[:levels]]
    return SyntheticEncoder(in_channels, options.channels[:levels], reductions)


def synthetic_encoder(
    channels: Sequence[int] = SyntheticParams().channels,
    reductions: Sequence[int] = SyntheticParams().reductions,
    **spec: Any,
) -> dict[str, Any]:
    """An encoder spec for the synthetic encoder, for ``check_decoder(..., encoder=...)``;
    ``spec`` adds encoder spec fields (``depth``, ``output_stride``, ``in_channels``).
    ``synthetic_encoder((32,) * 4, (16,) * 4)`` imitates a plain ViT."""
    params = {"channels": list(channels), "reductions": list(reductions)}
    return {"name": SYNTHETIC_ENCODER, **spec, "params": params}


class _SyntheticPlugin:
    @hookimpl
    def seghub_register_encoders(self, registry: Registry) -> None:
        registry.add_encoder(
            SYNTHETIC_ENCODER, factory=build_synthetic, params=SyntheticParams,
            description="seghub.testing's synthetic encoder (decoder checks)",
        )


@contextlib.contextmanager
def synthetic_registered() -> Iterator[None]:
    """Register the synthetic encoder in-process for the duration of the block."""
    hub = get_hub()
    if any(plugin.name == _PLUGIN_NAME for plugin in hub.plugins()):
        yield
        return
    hub.register(_SyntheticPlugin(), _PLUGIN_NAME)
    try:
        yield
    finally:
        with contextlib.suppress(PluginError):
            hub.unregister(_PLUGIN_NAME)
