"""Weights of timm encoders, offline only: tag tables with preprocessing, local safetensors
files, a pre-filled Hugging Face cache, and clear errors for what cannot be had."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from seghub.errors import WeightsError
from seghub.weights import Preprocessing
from seghub_encoders_timm._factory import build_encoder
from seghub_encoders_timm._weights import weights_table


def build(name: str, weights: str | None, in_channels: int = 3, depth: int = 5) -> torch.nn.Module:
    return build_encoder(name=name, in_channels=in_channels, depth=depth, output_stride=32, weights=weights)


def test_table_offers_imagenet_and_timm_tags() -> None:
    table = weights_table("timm:convnext_tiny")
    assert {"imagenet", "fb_in1k", "fb_in22k", "in12k_ft_in1k"} <= set(table)
    assert table["imagenet"] == table["in12k_ft_in1k"]  # timm's default tag
    assert table["fb_in1k"].repo_id == "timm/convnext_tiny.fb_in1k"
    assert table["fb_in1k"].filename == "model.safetensors"
    assert table["fb_in1k"].preprocessing == Preprocessing(
        mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225), input_range=(0.0, 1.0), input_space="RGB"
    )


def test_tag_in_name_pins_the_weights() -> None:
    table = weights_table("tu-convnext_tiny.fb_in22k")
    assert set(table) == {"imagenet", "fb_in22k"}
    assert table["imagenet"].repo_id == "timm/convnext_tiny.fb_in22k"
    assert weights_table("timm:test_vit")["imagenet"].preprocessing.mean == (0.5, 0.5, 0.5)
    assert weights_table("timm:test_mambaout") == {}  # timm has no weights for it


def test_local_file_loads(weights_file) -> None:
    path, state = weights_file("test_resnet.r160_in1k")
    encoder = build("timm:test_resnet", str(path))
    loaded = encoder.model.state_dict()
    assert torch.equal(loaded["layer4.0.conv1.weight"], state["layer4.0.conv1.weight"])
    assert torch.equal(loaded["conv1.0.weight"], state["conv1.0.weight"])


def test_local_file_adapts_input_conv(weights_file) -> None:
    path, state = weights_file("test_resnet.r160_in1k")
    rgb = state["conv1.0.weight"]
    grey = build("timm:test_resnet", str(path), in_channels=1).model.state_dict()["conv1.0.weight"]
    torch.testing.assert_close(grey, rgb.sum(dim=1, keepdim=True))
    five = build("timm:test_resnet", str(path), in_channels=5).model.state_dict()["conv1.0.weight"]
    torch.testing.assert_close(five, rgb[:, [0, 1, 2, 0, 1]] * 3 / 5)


def test_local_file_loads_into_vit(weights_file) -> None:
    path, state = weights_file("test_vit.r160_in1k")
    encoder = build("timm:test_vit", str(path), depth=3)
    loaded = encoder.model.state_dict()
    for key in ("pos_embed", "cls_token", "patch_embed.proj.weight", "blocks.5.mlp.fc2.weight"):
        assert torch.equal(loaded[key], state[key]), key


def test_file_lacking_tensors_is_refused(weights_file) -> None:
    path, _ = weights_file("test_resnet.r160_in1k", drop=["layer2.0.conv1.weight"])
    with pytest.raises(WeightsError, match=r"lacks 1 tensors .*layer2.0.conv1.weight"):
        build("timm:test_resnet", str(path))


def test_wrong_file_is_refused(weights_file) -> None:
    path, _ = weights_file("test_efficientnet.r160_in1k")
    with pytest.raises(WeightsError, match="could not load weights file .* into timm model 'test_resnet'"):
        build("timm:test_resnet", str(path))


def test_pickles_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "model.pth"
    path.write_bytes(b"not read")
    with pytest.raises(WeightsError, match=r"only .safetensors files are loaded"):
        build("timm:test_resnet", str(path))


def test_missing_offline_weights_say_what_and_how(hub_cache: Path) -> None:
    with pytest.raises(WeightsError) as info:
        build("timm:test_resnet", "imagenet")
    message = str(info.value)
    assert "timm/test_resnet.r160_in1k" in message and "model.safetensors" in message
    assert "weights to null" in message


def test_unknown_tag_lists_the_tags() -> None:
    with pytest.raises(WeightsError, match="no weights 'in21k'; available tags: 'imagenet', 'r160_in1k'"):
        build("timm:test_resnet", "in21k")


@pytest.mark.parametrize("weights", ["imagenet", "r160_in1k"])
def test_cached_hub_weights_load_offline(cached_weights, weights: str) -> None:
    state = cached_weights("timm/test_resnet.r160_in1k", "test_resnet.r160_in1k")
    encoder = build("tu-test_resnet", weights, depth=4)
    assert encoder.reductions == (2, 4, 8, 16)
    assert torch.equal(encoder.model.state_dict()["layer3.0.conv1.weight"], state["layer3.0.conv1.weight"])


def test_dinov3_weights_load_under_upernet_from_the_cache(cached_weights) -> None:
    """README's example: a DINOv3 ViT-S/16 under UPerNet, its weights from the (offline) cache."""
    import seghub

    state = cached_weights("timm/vit_small_patch16_dinov3.lvd1689m", "vit_small_patch16_dinov3")
    model = seghub.UPerNet("timm:vit_small_patch16_dinov3", encoder_weights="lvd1689m", classes=3).eval()
    loaded = model.encoder.model.state_dict()
    for key in ("cls_token", "reg_token", "patch_embed.proj.weight", "blocks.11.mlp.fc2.weight"):
        assert torch.equal(loaded[key], state[key]), key
    assert model.encoder.num_prefix_tokens == 5  # the class token and four registers, dropped from the maps
    assert model.spec.encoder.weights == "lvd1689m"
    assert model.preprocessing_params["mean"] == [0.485, 0.456, 0.406]
    with torch.no_grad():
        assert model(torch.randn(1, 3, 64, 64)).shape == (1, 3, 64, 64)
