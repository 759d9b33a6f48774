"""The entry-point module: registers the encoder and the decoder. Imports no torch."""

from __future__ import annotations

from seghub import Registry, hookimpl

SEGHUB_PLUGIN_API = 1          # the plugin API you target; a seghub that speaks another skips you


@hookimpl
def seghub_register_encoders(registry: Registry) -> None:
    """Register ``mobilenet_lite``."""
    registry.add_encoder(
        "mobilenet_lite",
        factory="seghub_example_encoder.mobilenet:build_encoder",
        params="seghub_example_encoder.params:MobileNetLiteParams",
        description="MobileNetV2-style inverted residuals (example plugin)",
    )


@hookimpl
def seghub_register_decoders(registry: Registry) -> None:
    """Register ``skipadd``."""
    registry.add_decoder(
        "skipadd",
        factory="seghub_example_encoder.skipadd:SkipAddDecoder",
        params="seghub_example_encoder.params:SkipAddParams",
        description="top-down skip-add decoder (example plugin)",
        head_defaults={"kernel_size": 1},
    )
