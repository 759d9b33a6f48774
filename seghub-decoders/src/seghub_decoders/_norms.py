"""Normalisation layers built from a ``decoder_use_norm`` value."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ._norm_options import norm_config

__all__ = ["LayerNorm2d", "InstanceNorm2d", "GroupNorm", "make_norm", "is_inplace_abn"]


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


class InstanceNorm2d(nn.InstanceNorm2d):
    """``nn.InstanceNorm2d`` that also takes a 1x1 map, as every input size check lets through.

    A channel of one pixel has zero variance, so it normalises to zero (then the affine bias),
    as ``nn.GroupNorm`` computes for a group of one value; torch refuses such a map instead, in
    eval mode too, with a message about training. Only running statistics cannot be learnt from
    a single pixel: with ``track_running_stats`` that stays an error in training.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4:
            raise ValueError(f"{type(self).__name__} takes a 4-d (N, C, H, W) input, got {x.dim()}-d")
        if self.training and self.track_running_stats and x.shape[-2] * x.shape[-1] == 1:
            raise ValueError(
                "instance norm with track_running_stats cannot update its running statistics from a 1x1 map "
                f"in training (input {tuple(x.shape)}); train on larger inputs or leave track_running_stats off"
            )
        return torch.instance_norm(
            x, self.weight, self.bias, self.running_mean, self.running_var,
            self.training or not self.track_running_stats, 0.0 if self.momentum is None else self.momentum,
            self.eps, torch.backends.cudnn.enabled,
        )


class GroupNorm(nn.GroupNorm):
    """``nn.GroupNorm`` that takes a batch of one image whose groups hold one value each.

    Group statistics are per image, so the batch size changes nothing; torch nevertheless
    refuses when batch x values per group is 1 (FPN's 32 groups of 32 channels on a 1x1 map, at
    the smallest valid input), with a message about training even in eval mode. Such a group
    normalises to zero, as it already does in any larger batch.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.group_norm(x, self.num_groups, self.weight, self.bias, self.eps, torch.backends.cudnn.enabled)


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
        "instancenorm": InstanceNorm2d,
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
