"""Warnings that point at the user's line, however deep inside seghub (and its plugins) they arise."""

from __future__ import annotations

import sys
import warnings

__all__ = ["warn_user"]


def warn_user(message: str, category: type[Warning] = UserWarning) -> None:
    """``warnings.warn`` with the stack level of the first caller outside ``seghub*`` packages,
    so the warning names the line that built the model (``build_model``, ``seghub.Unet``, ...)."""
    level, frame = 2, sys._getframe(1)  # stacklevel 2 is the caller of warn_user
    while frame is not None and str(frame.f_globals.get("__name__", "")).startswith("seghub"):
        frame = frame.f_back
        level += 1
    warnings.warn(message, category, stacklevel=level)
