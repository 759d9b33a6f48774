"""Registers the ResNet/ResNeXt encoders. Imports no torch: factories resolve on first build."""

from __future__ import annotations

from seghub import Registry, hookimpl

SEGHUB_PLUGIN_API = 1

# TODO(issue 3): register the eleven names with their weights.


@hookimpl
def seghub_register_encoders(registry: Registry) -> None:
    pass
