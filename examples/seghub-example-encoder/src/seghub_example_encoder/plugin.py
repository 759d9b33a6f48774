"""The entry-point module: registers the encoder and the decoder. Imports no torch."""

from __future__ import annotations

from seghub import Registry, hookimpl

SEGHUB_PLUGIN_API = 1

_PACKAGE = "seghub_example_encoder"


@hookimpl
def seghub_register_encoders(registry: Registry) -> None:
    """Register ``mobilenet_lite``."""
    registry.add_encoder(
        "mobilenet_lite",
        factory=f"{_PACKAGE}.mobilenet:build_encoder",
        params=f"{_PACKAGE}.params:MobileNetLiteParams",
        description="MobileNetV2-style inverted residuals (example plugin)",
    )


@hookimpl
def seghub_register_decoders(registry: Registry) -> None:
    """Register ``skipadd``."""
    registry.add_decoder(
        "skipadd",
        factory=f"{_PACKAGE}.skipadd:SkipAddDecoder",
        params=f"{_PACKAGE}.params:SkipAddParams",
        description="top-down skip-add decoder (example plugin)",
        head_defaults={"kernel_size": 1},
    )
