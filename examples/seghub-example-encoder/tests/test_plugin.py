"""The plugin as users meet it: discovered by entry point, built from a spec, loading weights files."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

import seghub
from seghub.errors import WeightsError
from seghub_example_encoder.mobilenet import build_encoder

SPEC = {
    "encoder": {"name": "mobilenet_lite", "depth": 4, "output_stride": 16, "params": {"width_multiplier": 0.5}},
    "decoder": {"name": "skipadd", "params": {"decoder_channels": 32}},
    "segmentation_head": {"classes": 3},
}


def test_discovered_through_its_entry_point():
    plugin = next(p for p in seghub.list_plugins() if p.name == "example")
    assert (plugin.distribution, plugin.status) == ("seghub-example-encoder", "ok")
    assert "mobilenet_lite" in seghub.list_encoders() and "skipadd" in seghub.list_decoders()


def test_build_model_from_a_spec():
    model = seghub.build_model(SPEC)
    assert model.encoder.reductions == (2, 4, 8, 16)
    assert model.encoder.out_channels == (8, 16, 16, 48)  # MobileNetV2 widths halved, rounded to 8
    assert model.spec.segmentation_head.kernel_size == 1  # the decoder's head default
    assert model.predict(torch.zeros(1, 3, 64, 96)).shape == (1, 3, 64, 96)


def test_params_are_validated_with_spec_locations():
    bad = {**SPEC, "decoder": {"name": "skipadd", "params": {"decoder_channels": 0}}}
    with pytest.raises(seghub.SpecError, match=r"decoder\.params\.decoder_channels"):
        seghub.build_model(bad)


def test_create_model_the_smp_way_without_a_constructor():
    """No constructor is registered: smp's generic arguments go to the spec, decoder params by
    name to decoder.params, the rest to encoder.params."""
    model = seghub.create_model(
        "skipadd", encoder_name="mobilenet_lite", encoder_weights=None, classes=3, encoder_depth=4,
        decoder_channels=32, width_multiplier=0.5,
    )
    assert model.spec.decoder.params == {"decoder_channels": 32}
    assert model.spec.encoder.params == {"width_multiplier": 0.5} and model.spec.encoder.depth == 4
    assert model.predict(torch.zeros(1, 3, 64, 64)).shape == (1, 3, 64, 64)


def test_weights_file_loads_into_shallower_encoder_with_other_channels(tmp_path: Path):
    source = build_encoder(name="mobilenet_lite", width_multiplier=0.5)
    save_file(source.state_dict(), tmp_path / "lite.safetensors")
    target = build_encoder(name="mobilenet_lite", in_channels=1, depth=3, width_multiplier=0.5,
                           weights=str(tmp_path / "lite.safetensors"))
    stem = "stages.0.0.0.weight"
    assert torch.equal(target.state_dict()[stem], source.state_dict()[stem].sum(dim=1, keepdim=True))
    assert torch.equal(target.state_dict()["stages.2.1.block.0.0.weight"], source.state_dict()["stages.2.1.block.0.0.weight"])


def test_unknown_weights_are_refused_clearly(tmp_path: Path):
    with pytest.raises(WeightsError, match="available: none"):
        build_encoder(name="mobilenet_lite", weights="imagenet", width_multiplier=1.0)
    save_file(build_encoder(name="mobilenet_lite", width_multiplier=0.5).state_dict(), tmp_path / "half.safetensors")
    with pytest.raises(WeightsError, match="does not fit"):
        build_encoder(name="mobilenet_lite", weights=str(tmp_path / "half.safetensors"), width_multiplier=1.0)
