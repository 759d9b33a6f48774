""""Did you mean ...?": the known names closest to a misspelt one."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["MAX_SUGGESTED", "close_matches"]

MAX_SUGGESTED = 100
"""Longer words get no suggestion: no known name is that long, and difflib indexes every
character of the word (a 50 MB name took seconds)."""


def close_matches(word: str, known: Iterable[str], *, n: int = 1, cutoff: float = 0.6) -> list[str]:
    """Up to ``n`` of ``known`` that are close to ``word``, best first (``difflib``'s measure)."""
    if len(word) > MAX_SUGGESTED:
        return []
    return difflib.get_close_matches(word, list(known), n=n, cutoff=cutoff)
