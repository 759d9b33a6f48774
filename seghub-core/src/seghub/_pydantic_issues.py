"""pydantic validation errors as located :class:`~seghub.errors.SpecIssue` lists.

Every message names where the problem is, from the spec (or config) root, and quotes at most a
short excerpt of the offending value: a spec may hold a 50 MB array, the message must not.
"""

from __future__ import annotations

import typing
from typing import Any

from pydantic import BaseModel, ValidationError

from ._excerpt import excerpt
from ._suggestions import close_matches
from .errors import SpecIssue

__all__ = ["excerpt", "issues_from"]


def issues_from(
    error: ValidationError,
    root: tuple[str | int, ...] = (),
    *,
    model: type[BaseModel] | None = None,
    schema_command: str = "seghub schema",
) -> list[SpecIssue]:
    """One located issue per problem in ``error``, rooted at ``root``.

    An unknown key gets a "Did you mean ...?" from the fields of the (sub-)model of ``model``
    that refused it, and points at ``schema_command``, which lists the allowed keys.
    """
    found = []
    for item in error.errors(include_url=False):
        loc = root + tuple(item["loc"])
        if item["type"] == "extra_forbidden":
            key = str(item["loc"][-1]) if item["loc"] else ""
            known = _fields_at(model, item["loc"][:-1])
            close = close_matches(key, known)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            message = f"unknown key; remove it (`{schema_command}` lists the allowed keys).{hint}"
        else:
            # a validator's own ValueError already says what is wrong: no "Value error, " before it
            text = item["msg"].removeprefix("Value error, ") if item["type"] == "value_error" else item["msg"]
            message = f"{text} (got {excerpt(item['input'])})" if "input" in item and item["type"] != "missing" else text
        found.append(SpecIssue(loc, message))
    return found


def _fields_at(model: type[BaseModel] | None, loc: tuple[Any, ...]) -> list[str]:
    """The field names of the model found by following ``loc`` from ``model`` (through nested
    models, optional ones included); empty where ``loc`` leads elsewhere."""
    for part in loc:
        if model is None or not isinstance(part, str) or part not in model.model_fields:
            return []
        model = _model_in(model.model_fields[part].annotation)
    return list(model.model_fields) if model is not None else []


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None
