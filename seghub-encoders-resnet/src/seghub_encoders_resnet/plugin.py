"""Registers the ResNet/ResNeXt encoders. Imports no torch: factories resolve on first build."""

from __future__ import annotations

from seghub import Registry, hookimpl

from ._archs import ARCHS

SEGHUB_PLUGIN_API = 1

_PACKAGE = "seghub_encoders_resnet"


@hookimpl
def seghub_register_encoders(registry: Registry) -> None:
    """Register the eleven ResNet/ResNeXt names with their weights tables."""
    for name, arch in ARCHS.items():
        registry.add_encoder(
            name,
            factory=f"{_PACKAGE}._factory:build_encoder",
            params=f"{_PACKAGE}._params:ResNetParams",
            weights=f"{_PACKAGE}._weights:weights_table",
            description=arch.description,
        )
