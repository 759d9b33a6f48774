"""seghub's own encoders and decoders pass the conformance kit that third-party plugins run.

Cheap sizes throughout; compile and export for one encoder and one decoder only (the full
compile/export matrix lives elsewhere).
"""

from __future__ import annotations

from typing import Any

import pytest

from seghub.testing import check_decoder, check_encoder, synthetic_encoder

pytest.importorskip("seghub_encoders_resnet")
pytest.importorskip("seghub_decoders")


def test_resnet18_conforms_and_exports():
    report = check_encoder("resnet18", export=True)
    assert len(report.checked) == 5 + 2 + 2 and not report.refused


def test_resnext_conforms():
    report = check_encoder("resnext50_32x4d", depths=(1, 5), in_channels=(1,), output_strides=(8,))
    assert len(report.checked) == 4 and not report.refused


@pytest.mark.parametrize(
    ("name", "refused"),
    [
        ("timm:test_resnet", []),
        ("timm:test_convnext", ["depth=1, in_channels=3, output_stride=32"]),  # its first feature is at 4
        ("timm:test_vit", ["depth=5, in_channels=3, output_stride=8"]),  # a plain ViT cannot dilate
    ],
)
def test_timm_encoder_conforms(name: str, refused: list[str]):
    pytest.importorskip("seghub_encoders_timm")
    report = check_encoder(name)
    assert [r[1:].split("]")[0] for r in report.refused] == refused


# decoder -> kit options; small params where the defaults are wide
DECODERS: dict[str, dict[str, Any]] = {
    "unet": {},
    "unetplusplus": {"params": {"decoder_channels": [32, 16, 16, 8, 8]}, "depths": (5,)},
    "manet": {"params": {"decoder_channels": [32, 16, 16, 8, 8], "decoder_pab_channels": 16}, "depths": (5,)},
    "linknet": {},
    "fpn": {"params": {"decoder_pyramid_channels": 32, "decoder_segmentation_channels": 32}},
    "pspnet": {},
    "pan": {"params": {"decoder_channels": 16}, "input_size": 128},  # pyramid attention needs >= 8 px at /16
    "deeplabv3": {"params": {"decoder_channels": 32}},
    "deeplabv3plus": {"params": {"decoder_channels": 32}},
    "upernet": {"params": {"decoder_channels": 32}},
    "segformer": {"params": {"decoder_segmentation_channels": 32}},
    "dpt": {"params": {"decoder_readout": "ignore", "decoder_intermediate_channels": [16, 32, 64, 64],
                       "decoder_fusion_channels": 32}},
}


@pytest.mark.parametrize("name", DECODERS)
def test_decoder_conforms_on_the_synthetic_encoder(name: str):
    check_decoder(name, **DECODERS[name])


def test_decoder_conforms_on_resnet18_and_compiles():
    check_decoder("unet", encoder={"name": "resnet18", "depth": 4}, params={"decoder_channels": [32, 16, 16, 8]},
                  depths=(), output_strides=(), compile="aot_eager", export=True)


def test_dpt_conforms_on_plain_vit_features():
    params = {"decoder_intermediate_channels": [16, 32, 64, 64], "decoder_fusion_channels": 32}
    check_decoder("dpt", encoder=synthetic_encoder((32,) * 4, (16,) * 4), params={**params, "decoder_readout": "ignore"},
                  depths=(), output_strides=())
    pytest.importorskip("seghub_encoders_timm")
    check_decoder("dpt", encoder={"name": "timm:test_vit", "depth": 4}, params={**params, "decoder_readout": "cat"},
                  depths=(), output_strides=())  # prefix tokens read out
