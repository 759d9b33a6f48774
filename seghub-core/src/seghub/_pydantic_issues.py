"""pydantic validation errors as located :class:`~seghub.errors.SpecIssue` lists.

Every message names where the problem is, from the spec (or config) root, and quotes at most a
short excerpt of the offending value: a spec may hold a 50 MB array, the message must not.
"""

from __future__ import annotations

import difflib
import reprlib
import typing
from typing import Any

from pydantic import BaseModel, ValidationError

from .errors import SpecIssue

__all__ = ["excerpt", "issues_from"]

_EXCERPT = reprlib.Repr()
_EXCERPT.maxstring = 60
_EXCERPT.maxother = 60
_EXCERPT.maxlist = _EXCERPT.maxtuple = _EXCERPT.maxdict = _EXCERPT.maxset = 6
_EXCERPT.maxlevel = 3


def excerpt(value: object) -> str:
    """A short ``repr`` of ``value`` (long strings, deep or long containers are cut with ``...``)."""
    return _EXCERPT.repr(value)


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
            close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            message = f"unknown key; remove it (`{schema_command}` lists the allowed keys).{hint}"
        elif "input" in item and item["type"] != "missing":
            message = f"{item['msg']} (got {excerpt(item['input'])})"
        else:
            message = item["msg"]
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
