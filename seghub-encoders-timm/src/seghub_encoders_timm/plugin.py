"""Registers the ``timm:`` encoder family. Imports neither timm nor torch."""

from __future__ import annotations

from seghub import Registry, hookimpl

SEGHUB_PLUGIN_API = 1

# TODO(issue 5): register the family.


@hookimpl
def seghub_register_encoders(registry: Registry) -> None:
    pass
