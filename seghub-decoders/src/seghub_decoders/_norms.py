"""Normalisation layers built from a ``decoder_use_norm`` value."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ._norm_options import norm_config

__all__ = ["LayerNorm2d", "make_norm", "is_inplace_abn"]


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channel dimension of an NCHW tensor.

    Same parameters (``weight``, ``bias`` of shape ``(C,)``) as ``nn.LayerNorm(C)``, so smp state
    dicts load; unlike smp 0.6 (which applies ``nn.LayerNorm`` to the last, spatial, axis and
    fails unless ``W == C``) it normalises each pixel's channel vector.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(0, 2, 3, 1)
        x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


def _inplace_abn() -> type[nn.Module]:
    try:
        from inplace_abn import InPlaceABN  # type: ignore[import-not-found]
    except ImportError as exc:
        raise ImportError(
            "decoder_use_norm='inplace' needs the inplace_abn package "
            "(pip install inplace_abn --no-build-isolation); or pick 'batchnorm'"
        ) from exc
    return InPlaceABN


def make_norm(use_norm: bool | str | dict[str, Any], channels: int) -> nn.Module:
    """The normalisation layer for ``channels`` channels that ``use_norm`` describes."""
    config = norm_config(use_norm)
    kind = config.pop("type")
    layers: dict[str, Any] = {
        "batchnorm": nn.BatchNorm2d,
        "identity": None,
        "layernorm": LayerNorm2d,
        "instancenorm": nn.InstanceNorm2d,
    }
    if kind == "identity":
        return nn.Identity()
    layer = _inplace_abn() if kind == "inplace" else layers[kind]
    try:
        return layer(channels, **config)
    except TypeError as exc:
        raise ValueError(f"normalisation {kind!r}: invalid options {config!r}: {exc}") from exc


def is_inplace_abn(module: nn.Module) -> bool:
    return type(module).__name__ == "InPlaceABN"
