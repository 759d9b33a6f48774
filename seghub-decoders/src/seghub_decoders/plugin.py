"""Registers seghub's twelve decoders, each with its params model, smp-style constructor and the
constraints the builder checks. Imports nothing heavy: every reference resolves on first build."""

from __future__ import annotations

from seghub import DecoderConstraints, FeatureRule, Registry, hookimpl

SEGHUB_PLUGIN_API = 1


@hookimpl
def seghub_register_decoders(registry: Registry) -> None:
    power_of_two = DecoderConstraints(features=FeatureRule(pattern="power_of_two"))
    registry.add_decoder(
        "unet",
        factory="seghub_decoders.unet.decoder:UnetDecoder",
        params="seghub_decoders.unet.params:UnetParams",
        constructor="seghub_decoders.unet.model:Unet",
        description="U-Net",
        constraints=power_of_two,
        head_defaults={"kernel_size": 3},
    )
    registry.add_decoder(
        "unetplusplus",
        factory="seghub_decoders.unetplusplus.decoder:UnetPlusPlusDecoder",
        params="seghub_decoders.unetplusplus.params:UnetPlusPlusParams",
        constructor="seghub_decoders.unetplusplus.model:UnetPlusPlus",
        description="U-Net++ (nested skips)",
        constraints=power_of_two,
        head_defaults={"kernel_size": 3},
    )
    registry.add_decoder(
        "manet",
        factory="seghub_decoders.manet.decoder:MAnetDecoder",
        params="seghub_decoders.manet.params:MAnetParams",
        constructor="seghub_decoders.manet.model:MAnet",
        description="MA-Net (multi-scale attention)",
        constraints=power_of_two,
        head_defaults={"kernel_size": 3},
    )
    registry.add_decoder(
        "linknet",
        factory="seghub_decoders.linknet.decoder:LinknetDecoder",
        params="seghub_decoders.linknet.params:LinknetParams",
        constructor="seghub_decoders.linknet.model:Linknet",
        description="LinkNet",
        constraints=DecoderConstraints(features=FeatureRule(pattern="doubling")),
        head_defaults={"kernel_size": 1},
    )
    registry.add_decoder(
        "fpn",
        factory="seghub_decoders.fpn.decoder:FPNDecoder",
        params="seghub_decoders.fpn.params:FPNParams",
        constructor="seghub_decoders.fpn.model:FPN",
        description="Feature Pyramid Network",
        constraints=DecoderConstraints(features=FeatureRule(min_features=4, last=4, pattern="power_of_two_ratios")),
        head_defaults={"kernel_size": 1},
    )
    registry.add_decoder(
        "pspnet",
        factory="seghub_decoders.pspnet.decoder:PSPDecoder",
        params="seghub_decoders.pspnet.params:PSPNetParams",
        constructor="seghub_decoders.pspnet.model:PSPNet",
        description="Pyramid Scene Parsing Network",
        constraints=DecoderConstraints(features=FeatureRule(last=1)),
        encoder_defaults={"depth": 3},
        head_defaults={"kernel_size": 3},
    )
    registry.add_decoder(
        "pan",
        factory="seghub_decoders.pan.decoder:PANDecoder",
        params="seghub_decoders.pan.params:PANParams",
        constructor="seghub_decoders.pan.model:PAN",
        description="Pyramid Attention Network",
        # the pyramid attention halves its map three times: the coarsest map needs 8x8
        constraints=DecoderConstraints(min_feature_size=8, features=FeatureRule(min_features=2, from_reduction=4)),
        encoder_defaults={"output_stride": 16},
        head_defaults={"kernel_size": 3},
    )
    registry.add_decoder(
        "deeplabv3",
        factory="seghub_decoders.deeplab.decoder:DeepLabV3Decoder",
        params="seghub_decoders.deeplab.params:DeepLabV3Params",
        constructor="seghub_decoders.deeplab.model:DeepLabV3",
        description="DeepLabV3 (ASPP)",
        constraints=DecoderConstraints(features=FeatureRule(last=1)),
        encoder_defaults={"output_stride": 8},
        head_defaults={"kernel_size": 1},
    )
    registry.add_decoder(
        "deeplabv3plus",
        factory="seghub_decoders.deeplab.decoder:DeepLabV3PlusDecoder",
        params="seghub_decoders.deeplab.params:DeepLabV3PlusParams",
        constructor="seghub_decoders.deeplab.model:DeepLabV3Plus",
        description="DeepLabV3+ (ASPP + low-level skip)",
        constraints=DecoderConstraints(
            features=FeatureRule(needs_reductions=(4,), min_coarsest_reduction=8, reads_needed_only=True)
        ),
        encoder_defaults={"output_stride": 16},
        head_defaults={"kernel_size": 1},
    )
    registry.add_decoder(
        "upernet",
        factory="seghub_decoders.upernet.decoder:UPerNetDecoder",
        params="seghub_decoders.upernet.params:UPerNetParams",
        constructor="seghub_decoders.upernet.model:UPerNet",
        description="UPerNet (PPM + FPN)",
        constraints=DecoderConstraints(features=FeatureRule(min_features=2, from_reduction=4)),
        head_defaults={"kernel_size": 1},
    )
    registry.add_decoder(
        "segformer",
        factory="seghub_decoders.segformer.decoder:SegformerDecoder",
        params="seghub_decoders.segformer.params:SegformerParams",
        constructor="seghub_decoders.segformer.model:Segformer",
        description="SegFormer all-MLP decoder",
        constraints=DecoderConstraints(features=FeatureRule(min_coarsest_reduction=8)),
        head_defaults={"kernel_size": 1},
    )
    registry.add_decoder(
        "dpt",
        factory="seghub_decoders.dpt.decoder:DPTDecoder",
        params="seghub_decoders.dpt.params:DPTParams",
        constructor="seghub_decoders.dpt.model:DPT",
        description="Dense Prediction Transformer",
        constraints=power_of_two,
        encoder_defaults={"depth": 4},
        head_defaults={"kernel_size": 1},
    )


@hookimpl
def seghub_register_necks(registry: Registry) -> None:
    # the builder tries necks in this order when a decoder cannot use an encoder's features:
    # resampling alone changes less than building a pyramid
    registry.add_neck(
        "grid_resample",
        factory="seghub_decoders.necks.grid_resample:GridResample",
        params="seghub_decoders.necks.params:GridResampleParams",
        description="token grids at reductions like 14 onto the nearest power of two (patch-14 ViTs)",
        priority=10,
    )
    registry.add_neck(
        "simple_pyramid",
        factory="seghub_decoders.necks.simple_pyramid:SimpleFeaturePyramid",
        params="seghub_decoders.necks.params:SimplePyramidParams",
        description="ViTDet's simple feature pyramid: one map at s to s/4, s/2, s, 2s (plain ViTs)",
        priority=20,
        selectable_outputs=True,
    )
