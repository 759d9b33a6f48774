"""Reading the JSON users hand seghub (spec files, saved configs) without a traceback.

A spec file may be a binary file, invalid JSON, a number of ten thousand digits or arrays nested a
hundred thousand deep; data handed in from Python may even contain itself. Each is refused with a
short reason instead of ``UnicodeDecodeError`` or ``RecursionError`` escaping from the parser
or, later, from code that walks the data. No spec or config is nested anywhere near
:data:`MAX_NESTING` levels.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

__all__ = ["MAX_NESTING", "JSONInputError", "read_json_file", "nesting_problem"]

MAX_NESTING = 64
"""The deepest nesting of lists and objects accepted (a spec needs about six levels)."""


class JSONInputError(ValueError):
    """A file is not JSON seghub can take; the message is a short reason (``not valid JSON: ...``)."""


def read_json_file(path: str | os.PathLike[str]) -> Any:
    """The JSON data in file ``path``.

    Raises ``OSError`` when the file cannot be read, and :class:`JSONInputError` when it is not
    UTF-8 text, not valid JSON, or nested deeper than :data:`MAX_NESTING`.
    """
    raw = Path(path).read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise JSONInputError(
            f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at position {exc.start}); is it a JSON file?"
        ) from None
    try:
        data = json.loads(text)
    except RecursionError:  # the parser recurses once per level
        raise JSONInputError(_too_deep()) from None
    except ValueError as exc:  # JSONDecodeError, and integers past Python's digit limit
        raise JSONInputError(f"not valid JSON: {exc}") from None
    problem = nesting_problem(data)
    if problem:
        raise JSONInputError(problem)
    return data


def nesting_problem(data: Any) -> str | None:
    """Why ``data`` is nested too deeply (or contains itself), or None.

    Walks lists, tuples and dicts without recursion, so any depth is measured safely."""
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children: Any = value.values()
        elif isinstance(value, (list, tuple)):
            children = value
        else:
            continue
        if depth >= MAX_NESTING:
            return _too_deep()
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list, tuple)))
    return None


def _too_deep() -> str:
    return f"nested more than {MAX_NESTING} levels deep (a spec needs about six; does it contain itself?)"
