"""Short quotes of user input for error messages.

A spec may hold a 50 MB array or a name of a million characters; a message that quotes it must
stay a message. Every place that quotes input goes through :func:`excerpt` (values) or
:func:`shorten` (text that may embed input, such as another library's error message).
"""

from __future__ import annotations

import reprlib

__all__ = ["excerpt", "shorten", "error_text", "MAX_MESSAGE"]

MAX_MESSAGE = 500
"""Characters kept of a foreign error message quoted in one of seghub's."""

_REPR = reprlib.Repr()
_REPR.maxstring = 60
_REPR.maxother = 60
_REPR.maxlist = _REPR.maxtuple = _REPR.maxdict = _REPR.maxset = _REPR.maxfrozenset = 6
_REPR.maxlevel = 3


def excerpt(value: object) -> str:
    """A short ``repr`` of ``value`` (long strings, deep or long containers are cut with ``...``)."""
    return _REPR.repr(value)


def shorten(text: str, limit: int = MAX_MESSAGE) -> str:
    """``text`` cut to ``limit`` characters, marking the cut with how much was left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text) - limit:,} more characters)"


def error_text(exc: BaseException) -> str:
    """Another library's error message, fit to quote: without the C++ stack trace PyTorch appends
    to some (``Exception raised from ...``), and :func:`shorten`-ed."""
    text = str(exc).split("\nException raised from ", 1)[0].strip()
    return shorten(text or type(exc).__name__)
