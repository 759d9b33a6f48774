"""Kept so that ``from seghub.architectures import Unet`` (and ``create_model``) keeps working.

The smp-style constructors live beside their decoders in the plugins that register them
(seghub-decoders for seghub's own); this module looks them up on first use, as ``seghub`` does.
``ARCHITECTURES`` maps each installed decoder that has a constructor to it.
"""

from __future__ import annotations

from typing import Any

from ._constructors import create_model, find_constructor

__all__ = ["create_model"]


def __getattr__(name: str) -> Any:
    if name == "ARCHITECTURES":
        from .plugins import get_hub

        return {d.name: d.load_constructor() for d in get_hub().decoders() if d.constructor is not None}
    if name[:1].isupper() and name.isidentifier():
        return find_constructor(name)
    raise AttributeError(f"module 'seghub.architectures' has no attribute {name!r}")
