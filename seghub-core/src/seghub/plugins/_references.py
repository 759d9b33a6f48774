"""``"module:attr"`` references: how plugins name code without importing it."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from ..errors import PluginError

__all__ = ["Ref", "resolve", "reference_name"]

Ref = str | Callable[..., Any]
"""A ``"module:attr"`` string or the object itself."""


def resolve(ref: Any, what: str) -> Any:
    """Import a ``"module:attr"`` reference (other objects are returned as they are).

    ``what`` names the reference in the :class:`~seghub.errors.PluginError` raised when it is
    malformed or does not import.
    """
    if not isinstance(ref, str):
        return ref
    module_name, sep, attr = ref.partition(":")
    if not sep or not module_name or not attr:
        raise PluginError(f"{what}: {ref!r} is not a 'module:attr' reference")
    try:
        obj: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise PluginError(f"{what}: cannot import {ref!r}: {exc}") from exc
    return obj


def reference_name(ref: Any) -> str | None:
    """The public name a reference stands for, without importing it: the last part of
    ``attr`` in ``"module:attr"``, or the object's ``__name__``."""
    if isinstance(ref, str):
        return ref.rpartition(":")[2].rpartition(".")[2] or None
    return getattr(ref, "__name__", None)
