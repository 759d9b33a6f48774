"""Losses named in configs: ``{"name": "dice", "params": {...}, "weight": 1.0}``.

``params`` are validated by the loss's params model, derived from its constructor's signature
(``_params.params_model``), and errors are :class:`~seghub.errors.SpecError` issues located from
``loss`` (``loss.params.gamma``, ``loss[1].name``).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from torch import nn

from ..errors import SpecError, SpecIssue
from ._base import ArgumentError, Loss, WeightedSum
from ._params import error_message, params_model
from .cross_entropy import SoftBCEWithLogitsLoss, SoftCrossEntropyLoss
from .dice import DiceLoss, JaccardLoss, TverskyLoss
from .focal import FocalLoss
from .lovasz import LovaszLoss
from .mcc import MCCLoss

__all__ = ["LossConfig", "build_loss", "list_losses"]

_LOSSES: dict[str, type[Loss]] = {
    "dice": DiceLoss,
    "jaccard": JaccardLoss,
    "tversky": TverskyLoss,
    "focal": FocalLoss,
    "lovasz": LovaszLoss,
    "soft_bce": SoftBCEWithLogitsLoss,
    "soft_ce": SoftCrossEntropyLoss,
    "mcc": MCCLoss,
}
# lower-cased smp class names are names too: "DiceLoss", "diceloss"
_ALIASES: dict[str, str] = {**{name: name for name in _LOSSES}, **{cls.__name__.lower(): name for name, cls in _LOSSES.items()}}


class LossConfig(BaseModel):
    """One loss in a config: its name, its constructor's arguments, and its weight in a sum."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="A name from list_losses() ('dice', 'focal', ...) or an smp class name ('DiceLoss').")
    params: dict[str, Any] = Field(default_factory=dict, description="Keyword arguments of the loss class.")
    weight: float = Field(1.0, allow_inf_nan=False, description="Factor of this loss in a weighted sum.")


def list_losses() -> list[str]:
    """The loss names :func:`build_loss` knows (smp's class names are accepted too)."""
    return list(_LOSSES)


def _lookup(name: str) -> type[Loss] | None:
    key = _ALIASES.get(name.lower())
    return None if key is None else _LOSSES[key]


def _unknown(name: str) -> str:
    close = difflib.get_close_matches(name.lower(), list(_ALIASES), n=3, cutoff=0.6)
    suggestions = list(dict.fromkeys(_ALIASES[match] for match in close))
    hint = f" Did you mean {' or '.join(repr(s) for s in suggestions)}?" if suggestions else ""
    return f"unknown loss {name!r}; known: {', '.join(_LOSSES)}.{hint}"


def _located(exc: ValidationError, root: tuple[str | int, ...], config_level: bool = False) -> list[SpecIssue]:
    issues = []
    for error in exc.errors(include_url=False):
        message = error_message(error)
        if config_level and error["type"] == "extra_forbidden":
            message = f"unknown key; a loss config takes {', '.join(LossConfig.model_fields)}"
        issues.append(SpecIssue(root + tuple(error["loc"]), message))
    return issues


ConfigLike = LossConfig | Mapping[str, Any]


def _build_one(item: Any, root: tuple[str | int, ...], issues: list[SpecIssue]) -> tuple[float, nn.Module] | None:
    try:
        config = item if isinstance(item, LossConfig) else LossConfig.model_validate(item)
    except ValidationError as exc:
        issues.extend(_located(exc, root, config_level=True))
        return None
    loss_class = _lookup(config.name)
    if loss_class is None:
        issues.append(SpecIssue(root + ("name",), _unknown(config.name)))
        return None
    model = params_model(loss_class)
    try:
        values = model.model_validate(config.params)
        loss_class._check_arguments(values)
    except ValidationError as exc:
        issues.extend(_located(exc, root + ("params",)))
        return None
    except ArgumentError as exc:
        issues.append(SpecIssue(root + ("params", exc.field), exc.message))
        return None
    return config.weight, loss_class(**{field: getattr(values, field) for field in model.model_fields})


def build_loss(config: ConfigLike | Sequence[ConfigLike]) -> nn.Module:
    """Build a loss from a config: one ``{"name", "params", "weight"}`` mapping or
    :class:`LossConfig` (the loss itself, or its weighted version when ``weight`` is not 1), or a
    list of them (their :class:`WeightedSum`).

    Raises :class:`~seghub.errors.SpecError` listing every problem, located from ``loss``.
    """
    if isinstance(config, (LossConfig, Mapping)):
        items: list[tuple[tuple[str | int, ...], Any]] = [(("loss",), config)]
    elif isinstance(config, Sequence) and not isinstance(config, (str, bytes)):
        items = [(("loss", index), item) for index, item in enumerate(config)]
        if not items:
            raise SpecError([SpecIssue(("loss",), "an empty list; give at least one loss config")], "loss config")
    else:
        raise SpecError([SpecIssue(("loss",), (
            "must be a loss config ({'name': ..., 'params': {...}}), a list of them or a LossConfig;"
            f" got {type(config).__name__}"
        ))], "loss config")
    issues: list[SpecIssue] = []
    built = [_build_one(item, root, issues) for root, item in items]
    if issues:
        raise SpecError(issues, "loss config")
    terms = [term for term in built if term is not None]
    if isinstance(config, (LossConfig, Mapping)):
        weight, loss = terms[0]
        return loss if weight == 1.0 else WeightedSum([(weight, loss)])
    return WeightedSum(terms)
