"""Layers the decoders share: conv-norm-ReLU, attention, a lean dropout, export-safe pooling, resizing."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ._norms import is_inplace_abn, make_norm

__all__ = ["ConvNormReLU", "ByteMaskDropout", "SCSE", "Attention", "AdaptiveAvgPool2d", "resize_to", "resize_bilinear"]


class ConvNormReLU(nn.Sequential):
    """Conv2d -> norm -> ReLU (smp's ``Conv2dReLU``: children ``0``, ``1``, ``2``).

    The convolution has a bias only without normalisation; with InPlaceABN, whose activation is
    built in, the ReLU is an identity.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        padding: int = 0,
        stride: int = 1,
        use_norm: bool | str | dict[str, Any] = "batchnorm",
    ) -> None:
        norm = make_norm(use_norm, out_channels)
        conv = nn.Conv2d(
            in_channels, out_channels, kernel_size, stride=stride, padding=padding,
            bias=isinstance(norm, nn.Identity),
        )
        act: nn.Module = nn.Identity() if is_inplace_abn(norm) else nn.ReLU(inplace=True)
        super().__init__(conv, norm, act)

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """The norm and activation alone, for callers that compute the convolution themselves."""
        _, norm, activation = self
        return activation(norm(x))


class ByteMaskDropout(nn.Dropout):
    """``nn.Dropout`` that keeps a one-byte mask for the backward pass instead of a float one.

    On the CPU, ``nn.Dropout`` keeps a float mask as large as its input until the backward pass;
    this keeps a boolean mask, a quarter of that, with the same distribution (each element kept
    with probability ``1 - p``, survivors scaled by ``1 / (1 - p)``). Worth it on large
    full-resolution maps, such as in DPT's head.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        if self.p == 1:
            return torch.zeros_like(x)
        keep = torch.rand_like(x) >= self.p
        return torch.where(keep, x, 0.0).mul_(1 / (1 - self.p))


class SCSE(nn.Module):
    """Concurrent spatial and channel squeeze-and-excitation (Roy et al., 2018)."""

    def __init__(self, in_channels: int, reduction: int = 16) -> None:
        super().__init__()
        hidden = in_channels // reduction
        if hidden < 1:
            raise ValueError(
                f"scse attention needs at least {reduction} channels, got {in_channels}; "
                "use wider decoder_channels or decoder_attention_type=None"
            )
        self.cSE = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(in_channels, hidden, 1),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, in_channels, 1),
            nn.Sigmoid(),
        )
        self.sSE = nn.Sequential(nn.Conv2d(in_channels, 1, 1), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.cSE(x) + x * self.sSE(x)


class Attention(nn.Module):
    """Optional attention: ``None`` is an identity, ``"scse"`` is :class:`SCSE`.

    The wrapper keeps smp's key layout (``<name>.attention.cSE.1.weight``).
    """

    def __init__(self, name: str | None, in_channels: int) -> None:
        super().__init__()
        if name is None:
            self.attention: nn.Module = nn.Identity()
        elif name == "scse":
            self.attention = SCSE(in_channels)
        else:
            raise ValueError(f"unknown attention type {name!r}; expected None or 'scse'")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.attention(x)


def _window_means(length: int, bins: int, like: torch.Tensor) -> torch.Tensor:
    """``(bins, length)`` weights averaging the windows of adaptive pooling along one axis:
    bin ``i`` covers ``[floor(i * length / bins), ceil((i + 1) * length / bins))``."""
    positions = torch.arange(length, device=like.device)
    index = torch.arange(bins, device=like.device)
    start = index * length // bins
    end = ((index + 1) * length + bins - 1) // bins
    inside = (positions[None, :] >= start[:, None]) & (positions[None, :] < end[:, None])
    return inside.to(like.dtype) / (end - start).to(like.dtype)[:, None]


class AdaptiveAvgPool2d(nn.AdaptiveAvgPool2d):
    """``nn.AdaptiveAvgPool2d`` that stays correct in exported graphs with dynamic sizes.

    The ONNX exporter decomposes adaptive pooling with the example input's window bounds baked
    in, so other input sizes silently get wrong values. While exporting or tracing, this module
    pools by two matrix products whose window weights are computed from the input's size
    instead; otherwise it is ``nn.AdaptiveAvgPool2d``.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (torch.compiler.is_exporting() or torch.jit.is_tracing()):
            return super().forward(x)
        size = self.output_size if isinstance(self.output_size, tuple) else (self.output_size,) * 2
        height, width = x.shape[-2:]
        out_h = height if size[0] is None else size[0]
        out_w = width if size[1] is None else size[1]
        rows = _window_means(height, out_h, x)
        cols = _window_means(width, out_w, x)
        return rows @ x @ cols.transpose(0, 1)


def resize_to(x: torch.Tensor, size: Sequence[int], mode: str) -> torch.Tensor:
    """Interpolate ``x`` to ``size`` (a no-op when it already has that size)."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=tuple(size), mode=mode)


def resize_bilinear(x: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    """Bilinear resize of ``x`` to ``size`` (``align_corners=False``)."""
    return F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=False)
