"""Registers seghub's twelve decoders. Imports nothing heavy: factories resolve on first build."""

from __future__ import annotations

from seghub import Registry, hookimpl

SEGHUB_PLUGIN_API = 1

# name -> (module, decoder class, params model, description, encoder defaults, head defaults)
_DECODERS: dict[str, tuple[str, str, str, str, dict, dict]] = {
    "unet": ("unet", "UnetDecoder", "UnetParams", "U-Net", {}, {"kernel_size": 3}),
    "unetplusplus": ("unetplusplus", "UnetPlusPlusDecoder", "UnetPlusPlusParams", "U-Net++ (nested skips)", {}, {"kernel_size": 3}),
    "manet": ("manet", "MAnetDecoder", "MAnetParams", "MA-Net (multi-scale attention)", {}, {"kernel_size": 3}),
    "linknet": ("linknet", "LinknetDecoder", "LinknetParams", "LinkNet", {}, {"kernel_size": 1}),
    "fpn": ("fpn", "FPNDecoder", "FPNParams", "Feature Pyramid Network", {}, {"kernel_size": 1}),
    "pspnet": ("pspnet", "PSPDecoder", "PSPNetParams", "Pyramid Scene Parsing Network", {"depth": 3}, {"kernel_size": 3}),
    "pan": ("pan", "PANDecoder", "PANParams", "Pyramid Attention Network", {"output_stride": 16}, {"kernel_size": 3}),
    "deeplabv3": ("deeplab", "DeepLabV3Decoder", "DeepLabV3Params", "DeepLabV3 (ASPP)", {"output_stride": 8}, {"kernel_size": 1}),
    "deeplabv3plus": ("deeplab", "DeepLabV3PlusDecoder", "DeepLabV3PlusParams", "DeepLabV3+ (ASPP + low-level skip)", {"output_stride": 16}, {"kernel_size": 1}),
    "upernet": ("upernet", "UPerNetDecoder", "UPerNetParams", "UPerNet (PPM + FPN)", {}, {"kernel_size": 1}),
    "segformer": ("segformer", "SegformerDecoder", "SegformerParams", "SegFormer all-MLP decoder", {}, {"kernel_size": 1}),
    "dpt": ("dpt", "DPTDecoder", "DPTParams", "Dense Prediction Transformer", {"depth": 4}, {"kernel_size": 1}),
}


@hookimpl
def seghub_register_decoders(registry: Registry) -> None:
    for name, (module, cls, params, description, encoder_defaults, head_defaults) in _DECODERS.items():
        registry.add_decoder(
            name,
            factory=f"seghub_decoders.{module}:{cls}",
            params=f"seghub_decoders.{module}:{params}",
            description=description,
            encoder_defaults=encoder_defaults,
            head_defaults=head_defaults,
        )
