"""Activations by name, as the heads use them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from ._spec import ACTIVATION_NAMES

__all__ = ["make_activation"]


class _ArgMax(nn.Module):
    """Index of the largest value along ``dim`` (channels for masks)."""

    def __init__(self, dim: int = 1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.argmax(x, dim=self.dim)


class _Lambda(nn.Module):
    """Wraps a user callable so it sits in an ``nn.Sequential``."""

    def __init__(self, fn: Callable[[torch.Tensor], torch.Tensor]) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x)


def make_activation(activation: str | Callable[..., Any] | None) -> nn.Module:
    """An ``nn.Module`` for an activation name, a callable, or None (identity).

    Softmax-like activations and argmax work over dim 1: channels for masks, classes for labels.
    A callable that is an ``nn.Module`` class is instantiated; other callables are applied as is.
    """
    if activation is None or activation == "identity":
        return nn.Identity()
    if isinstance(activation, str):
        factories: dict[str, Callable[[], nn.Module]] = {
            "sigmoid": nn.Sigmoid,
            "softmax": lambda: nn.Softmax(dim=1),
            "softmax2d": lambda: nn.Softmax(dim=1),
            "logsoftmax": lambda: nn.LogSoftmax(dim=1),
            "tanh": nn.Tanh,
            "argmax": _ArgMax,
            "argmax2d": _ArgMax,
        }
        if activation not in factories:
            raise ValueError(
                f"unknown activation {activation!r}; use one of {', '.join(ACTIVATION_NAMES)}, None or a callable"
            )
        return factories[activation]()
    if isinstance(activation, type) and issubclass(activation, nn.Module):
        return activation()
    if isinstance(activation, nn.Module):
        return activation
    if callable(activation):
        return _Lambda(activation)
    raise ValueError(f"activation must be a name, a callable or None, got {activation!r}")
