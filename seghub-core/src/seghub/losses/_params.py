"""Argument types of the losses, and pydantic params models derived from their signatures.

A loss's ``__init__`` signature is the one source of truth for its arguments: their names,
types, constraints (``Annotated[float, Field(ge=0)]``) and defaults. :func:`params_model`
turns it into a pydantic model, which validates both ``DiceLoss(...)`` calls and the
``params`` of a loss config, so no default is written twice.
"""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Sequence
from typing import Annotated, Any, Literal

import torch
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, WithJsonSchema, create_model

Mode = Literal["binary", "multiclass", "multilabel"]
NonNegative = Annotated[float, Field(ge=0)]
Positive = Annotated[float, Field(gt=0)]
Fraction = Annotated[float, Field(ge=0, le=1)]
Reduction = Literal["mean", "sum", "none"]


def _as_list(value: Any) -> Any:
    """Tensors and numpy arrays become lists, so ``classes=torch.tensor([1, 2])`` works as in smp."""
    if isinstance(value, torch.Tensor) or type(value).__module__ == "numpy":
        return value.tolist()
    return value


def _as_tensor(value: Any) -> Any:
    if value is None or isinstance(value, torch.Tensor):
        return value
    try:
        return torch.as_tensor(_as_list(value), dtype=torch.float32)
    except (TypeError, ValueError, RuntimeError):
        raise ValueError(f"expected a number or a (nested) list of numbers, got {value!r}") from None


#: class indices; a tensor, numpy array or any sequence of non-negative ints
ClassList = Annotated[tuple[Annotated[int, Field(ge=0, strict=True)], ...] | None, BeforeValidator(_as_list)]
#: one non-negative weight per class of the prediction
ClassWeights = Annotated[tuple[NonNegative, ...] | None, BeforeValidator(_as_list)]
#: a float tensor of any shape (torch's ``weight``/``pos_weight``), given as a tensor or nested lists
FloatTensor = Annotated[
    torch.Tensor | None,
    BeforeValidator(_as_tensor),
    PlainSerializer(lambda value: None if value is None else value.tolist()),
    WithJsonSchema({"anyOf": [{"type": "number"}, {"type": "array"}, {"type": "null"}]}),
]


@functools.cache
def params_model(loss_class: type) -> type[BaseModel]:
    """The pydantic model of ``loss_class``'s constructor arguments (cached per class)."""
    signature = inspect.signature(loss_class.__init__)
    hints = typing.get_type_hints(loss_class.__init__, include_extras=True)
    fields: dict[str, Any] = {}
    for name, parameter in list(signature.parameters.items())[1:]:
        default = ... if parameter.default is inspect.Parameter.empty else parameter.default
        fields[name] = (hints.get(name, Any), default)
    return create_model(
        f"{loss_class.__name__}Params",
        __config__=ConfigDict(extra="forbid", arbitrary_types_allowed=True),
        __doc__=f"The arguments of :class:`{loss_class.__name__}` (its ``__init__`` signature).",
        **fields,
    )


def defaults(loss_class: type) -> dict[str, Any]:
    """The default of each argument of ``loss_class`` that has one."""
    return {
        name: field.default
        for name, field in params_model(loss_class).model_fields.items()
        if not field.is_required()
    }


def error_message(error: dict[str, Any]) -> str:
    """One pydantic error as seghub words it: the message and the value given."""
    message = error["msg"]
    if error["type"] == "extra_forbidden":
        return "unknown argument; remove it"
    if "input" in error and error["type"] != "missing":
        message = f"{message} (got {error['input']!r})"
    return message


def field_path(loc: Sequence[str | int]) -> str:
    """``("classes", 1)`` -> ``classes[1]``."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text
