"""What every seghub loss shares: validated arguments, a readable repr, and arithmetic
(``DiceLoss(...) + 0.5 * FocalLoss(...)`` is a :class:`WeightedSum`)."""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Mapping
from typing import Any

import torch
from pydantic import BaseModel, ValidationError
from torch import nn

from ._params import defaults, error_message, field_path, params_model


class ArgumentError(ValueError):
    """A loss argument that is wrong given the others; ``field`` names it."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


def _is_weight(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


class _Arithmetic:
    """``+``, ``*`` and ``/`` between losses and numbers, giving a :class:`WeightedSum`."""

    def __add__(self, other: Any) -> WeightedSum:
        if not isinstance(other, nn.Module):
            return NotImplemented
        return WeightedSum([*_terms(self), *_terms(other)])

    def __radd__(self, other: Any) -> nn.Module:
        if _is_weight(other) and other == 0:  # sum([a, b]) starts from 0
            return self  # type: ignore[return-value]
        if not isinstance(other, nn.Module):
            return NotImplemented
        return WeightedSum([*_terms(other), *_terms(self)])

    def __mul__(self, weight: Any) -> WeightedSum:
        if not _is_weight(weight):
            return NotImplemented
        return WeightedSum([(w * float(weight), loss) for w, loss in _terms(self)])

    __rmul__ = __mul__

    def __truediv__(self, divisor: Any) -> WeightedSum:
        if not _is_weight(divisor):
            return NotImplemented
        return self * (1.0 / float(divisor))


def _terms(loss: Any) -> list[tuple[float, nn.Module]]:
    if isinstance(loss, WeightedSum):
        return list(zip(loss.weights, loss.terms))
    return [(1.0, loss)]


class Loss(_Arithmetic, nn.Module):
    """Base class of seghub's losses.

    Subclasses call :meth:`_accept` with their ``__init__``'s ``locals()``: the arguments are
    validated against the pydantic model derived from the signature (:func:`params_model`),
    then by :meth:`_check_arguments` for rules that involve several arguments.
    """

    def _accept(self, arguments: Mapping[str, Any]) -> BaseModel:
        model = params_model(type(self))
        given = {name: arguments[name] for name in model.model_fields}
        try:
            values = model.model_validate(given)
        except ValidationError as exc:
            problems = "; ".join(
                f"{field_path(error['loc'])}: {error_message(error)}" for error in exc.errors(include_url=False)
            )
            raise ValueError(f"{type(self).__name__}: {problems}") from None
        try:
            type(self)._check_arguments(values)
        except ArgumentError as exc:
            raise ArgumentError(exc.field, f"{type(self).__name__}: {exc.field}: {exc.message}") from None
        # a plain dict: the params model is made at run time, so its instances do not pickle
        self._arguments = {name: getattr(values, name) for name in model.model_fields}
        # each loss checks the values in a target on every CPU call, and on other devices on
        # its first call only (the check reads a result back, which waits for the device)
        self._targets_checked = False
        return values

    @classmethod
    def _check_arguments(cls, values: Any) -> None:
        """Raise :class:`ArgumentError` for a combination of arguments that makes no sense."""

    def _check_values_now(self, tensor: torch.Tensor) -> bool:
        """Whether to check the values in ``tensor`` on this call (see ``_accept``)."""
        if tensor.device.type == "cpu":
            return True
        first, self._targets_checked = not self._targets_checked, True
        return first

    def __repr__(self) -> str:
        values = getattr(self, "_arguments", None)
        if values is None:
            return super().__repr__()
        unset = object()
        shown = []
        for name, default in {**dict.fromkeys(values, unset), **defaults(type(self))}.items():
            value = values[name]
            if default is unset or not _same(value, default):
                shown.append(f"{name}={_show(value)}")
        return f"{type(self).__name__}({', '.join(shown)})"


def _same(value: Any, default: Any) -> bool:
    if isinstance(value, torch.Tensor) or isinstance(default, torch.Tensor):
        return value is default
    return bool(value == default)


def _show(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return repr(value.tolist())
    if isinstance(value, tuple):
        return repr(list(value))
    return repr(value)


class WeightedSum(_Arithmetic, nn.Module):
    """A weighted sum of losses: ``forward(y_pred, y_true)`` returns ``sum(w * loss(y_pred, y_true))``.

    Made by ``+``, ``*`` and ``/`` on losses (any ``nn.Module`` taking ``(y_pred, y_true)`` can
    be a term, ``torch.nn.CrossEntropyLoss()`` too), by :func:`build_loss` from a list of
    configs, or directly from ``(weight, loss)`` pairs.
    """

    def __init__(self, terms: Iterable[tuple[float, nn.Module]]):
        super().__init__()
        pairs = list(terms)
        for weight, loss in pairs:
            if not _is_weight(weight):
                raise TypeError(f"WeightedSum: weights must be real numbers, got {weight!r}")
            if not isinstance(loss, nn.Module):
                raise TypeError(f"WeightedSum: terms must be nn.Module losses, got {type(loss).__name__}")
        if not pairs:
            raise ValueError("WeightedSum: needs at least one (weight, loss) term")
        self.weights: tuple[float, ...] = tuple(float(weight) for weight, _ in pairs)
        self.terms = nn.ModuleList(loss for _, loss in pairs)

    def forward(self, y_pred: torch.Tensor, y_true: torch.Tensor) -> torch.Tensor:
        total = None
        for weight, loss in zip(self.weights, self.terms):
            value = loss(y_pred, y_true)
            value = value if weight == 1.0 else value * weight
            total = value if total is None else total + value
        return total

    def __repr__(self) -> str:
        parts = [repr(loss) if weight == 1.0 else f"{weight:g} * {loss!r}" for weight, loss in zip(self.weights, self.terms)]
        return " + ".join(parts)
