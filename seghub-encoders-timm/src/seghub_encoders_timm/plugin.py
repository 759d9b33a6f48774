"""Registers the ``timm:`` encoder family (alias ``tu-``). Imports neither timm nor torch."""

from __future__ import annotations

from seghub import Registry, hookimpl

SEGHUB_PLUGIN_API = 1

_PACKAGE = "seghub_encoders_timm"


@hookimpl
def seghub_register_encoders(registry: Registry) -> None:
    """Register ``timm:<model>`` for every timm model that can serve as an encoder."""
    registry.add_encoder_family(
        "timm:",
        aliases=("tu-",),
        factory=f"{_PACKAGE}._factory:build_encoder",
        params=f"{_PACKAGE}._params:TimmParams",
        weights=f"{_PACKAGE}._weights:weights_table",
        list_names=f"{_PACKAGE}._names:list_names",
        validate_name=f"{_PACKAGE}._names:validate_name",
        description="any timm backbone (feature pyramid or plain ViT)",
    )
