"""Pretrained weights: tables, offline Hugging Face cache, local files, strict loading, in_channels."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from seghub._protocols import check_encoder_attributes, check_encoder_output
from seghub.errors import WeightsError
from seghub.testing import write_hub_file
from seghub.weights import Preprocessing
from seghub_encoders_resnet import ENCODER_NAMES, WEIGHTS, build_encoder, weights_table

Checkpoint = dict[str, torch.Tensor]
MakeCheckpoint = Callable[..., Checkpoint]

# The tags smp 0.6 offers per name (segmentation_models_pytorch/encoders/resnet.py).
EXPECTED_TAGS = {
    "resnet18": {"imagenet", "ssl", "swsl"},
    "resnet34": {"imagenet"},
    "resnet50": {"imagenet", "ssl", "swsl"},
    "resnet101": {"imagenet"},
    "resnet152": {"imagenet"},
    "resnext50_32x4d": {"imagenet", "ssl", "swsl"},
    "resnext101_32x4d": {"ssl", "swsl"},
    "resnext101_32x8d": {"imagenet", "instagram", "ssl", "swsl"},
    "resnext101_32x16d": {"instagram", "ssl", "swsl"},
    "resnext101_32x32d": {"instagram"},
    "resnext101_32x48d": {"instagram"},
}


def without_fc(state: Checkpoint) -> Checkpoint:
    return {k: v for k, v in state.items() if not k.startswith("fc.")}


def assert_loaded(encoder: torch.nn.Module, state: Checkpoint, skip: tuple[str, ...] = ()) -> None:
    """Every tensor of the encoder equals the checkpoint's (classifier and ``skip`` aside)."""
    loaded = encoder.state_dict()
    expected = {k: v for k, v in without_fc(state).items() if not k.startswith(skip)}
    assert set(loaded) == set(expected) | {k for k in loaded if k.startswith(skip)}
    for key, value in expected.items():
        assert torch.equal(loaded[key], value), key


# --- the tables -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ENCODER_NAMES)
def test_table_pins_smp_hub_repos(name: str) -> None:
    table = weights_table(name)
    assert set(table) == EXPECTED_TAGS[name]
    for tag, weights in table.items():
        assert weights.repo_id == f"smp-hub/{name}.{tag}"
        assert weights.revision is not None and re.fullmatch(r"[0-9a-f]{40}", weights.revision)
        assert weights.filename == "model.safetensors"
        assert weights.preprocessing == Preprocessing(
            mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225), input_range=(0.0, 1.0), input_space="RGB"
        )
    assert weights_table(name) is not WEIGHTS[name]  # callers get a copy


def test_table_matches_smp_settings() -> None:
    resnet = pytest.importorskip("segmentation_models_pytorch.encoders.resnet")
    assert set(resnet.resnet_encoders) == set(ENCODER_NAMES)
    for name, entry in resnet.resnet_encoders.items():
        settings = entry["pretrained_settings"]
        assert {tag: (w.repo_id, w.revision) for tag, w in WEIGHTS[name].items()} == {
            tag: (s["repo_id"], s["revision"]) for tag, s in settings.items()
        }


def test_unknown_name_has_an_empty_table() -> None:
    assert weights_table("resnet35") == {}


# --- offline Hugging Face cache ---------------------------------------------------------------


@pytest.mark.parametrize(("name", "tag"), [("resnet18", "imagenet"), ("resnet18", "ssl"), ("resnet18", "swsl"),
                                           ("resnet50", "swsl")])
def test_tag_loads_from_the_offline_hub_cache(
    name: str, tag: str, hub_cache: Path, make_checkpoint: MakeCheckpoint
) -> None:
    state = make_checkpoint(name)
    pinned = WEIGHTS[name][tag]
    path = write_hub_file(hub_cache, pinned.repo_id, pinned.revision, pinned.filename, state)
    assert path == hub_cache / f"models--smp-hub--{name}.{tag}" / "snapshots" / pinned.revision / "model.safetensors"
    encoder = build_encoder(name=name, in_channels=3, depth=5, output_stride=32, weights=tag)
    assert_loaded(encoder, state)
    assert not hasattr(encoder, "fc")


def test_missing_weights_give_one_clear_error(hub_cache: Path) -> None:
    pinned = WEIGHTS["resnet34"]["imagenet"]
    with pytest.raises(WeightsError) as info:
        build_encoder(name="resnet34", weights="imagenet")
    message = str(info.value)
    for expected in ("'imagenet'", "'resnet34'", "'model.safetensors'", f"'{pinned.repo_id}'",
                     f"'{pinned.revision}'", "HF_HUB_OFFLINE", "encoder.weights to null"):
        assert expected in message


def test_a_file_of_another_revision_is_not_taken(hub_cache: Path, make_checkpoint: MakeCheckpoint) -> None:
    pinned = WEIGHTS["resnet18"]["imagenet"]
    write_hub_file(hub_cache, pinned.repo_id, "f" * 40, pinned.filename, make_checkpoint("resnet18"))
    with pytest.raises(WeightsError, match=pinned.revision):
        build_encoder(name="resnet18", weights="imagenet")


def test_corrupt_cached_file_is_a_weights_error(hub_cache: Path) -> None:
    pinned = WEIGHTS["resnet18"]["ssl"]
    write_hub_file(hub_cache, pinned.repo_id, pinned.revision, pinned.filename, b"\x00not safetensors")
    with pytest.raises(WeightsError, match="corrupt"):
        build_encoder(name="resnet18", weights="ssl")


@pytest.mark.parametrize(("name", "tag"), [("resnet34", "ssl"), ("resnext101_32x48d", "imagenet"),
                                           ("resnext101_32x8d", "Imagenet"), ("resnet18", "")])
def test_unknown_tag_lists_the_available_ones(name: str, tag: str) -> None:
    with pytest.raises(WeightsError) as info:
        build_encoder(name=name, weights=tag)
    message = str(info.value)
    assert repr(tag) in message and repr(name) in message
    for available in EXPECTED_TAGS[name]:
        assert repr(available) in message
    assert "None for random weights" in message


# --- local files --------------------------------------------------------------------------------


def test_a_safetensors_path_loads_that_file(tmp_path: Path, make_checkpoint: MakeCheckpoint) -> None:
    state = make_checkpoint("resnet18", seed=3)
    path = tmp_path / "my weights.safetensors"
    save_file(state, str(path))
    for weights in (str(path), path):
        assert_loaded(build_encoder(name="resnet18", weights=weights), state)


def test_a_missing_path_is_reported(tmp_path: Path) -> None:
    missing = tmp_path / "nothing.safetensors"
    with pytest.raises(WeightsError, match=r"is not an existing file.*'imagenet'"):
        build_encoder(name="resnet18", weights=str(missing))


def test_a_pickle_is_never_loaded(tmp_path: Path, make_checkpoint: MakeCheckpoint) -> None:
    path = tmp_path / "weights.pth"
    torch.save(make_checkpoint("resnet18"), path)
    with pytest.raises(WeightsError, match="unknown weights"):
        build_encoder(name="resnet18", weights=str(path))


# --- torchvision layout, strict loading ---------------------------------------------------------


def test_torchvision_checkpoint_loads_strictly_without_its_classifier(make_checkpoint: MakeCheckpoint) -> None:
    state = make_checkpoint("resnet18")
    assert {"fc.weight", "fc.bias"} <= set(state)
    encoder = build_encoder(name="resnet18")
    # the plain nn.Module load is strict and rejects the classifier...
    with pytest.raises(RuntimeError, match=r"Unexpected key\(s\).*fc\.weight"):
        encoder.load_state_dict(state, strict=True)
    # ...which is the only difference: without fc the layouts are identical
    encoder.load_state_dict(without_fc(state), strict=True)
    # load_pretrained drops fc.* and loads everything else strictly
    fresh = build_encoder(name="resnet18")
    fresh.load_pretrained(state)
    assert_loaded(fresh, state)
    assert not any(key.startswith("fc.") for key in fresh.state_dict())


def test_checkpoint_without_batch_counters_loads(tmp_path: Path, make_checkpoint: MakeCheckpoint) -> None:
    state = {k: v for k, v in make_checkpoint("resnet18").items() if not k.endswith("num_batches_tracked")}
    path = tmp_path / "w.safetensors"
    save_file(state, str(path))
    encoder = build_encoder(name="resnet18", weights=str(path))
    for key, value in encoder.state_dict().items():
        if key.endswith("num_batches_tracked"):
            assert int(value) == 0, key  # reset, not left as uninitialised memory
        else:
            assert torch.equal(value, state[key]), key


@pytest.mark.parametrize("depth", [1, 3, 4])
def test_shallow_encoder_takes_what_it_uses_from_a_full_checkpoint(
    depth: int, tmp_path: Path, make_checkpoint: MakeCheckpoint
) -> None:
    state = make_checkpoint("resnet18")
    path = tmp_path / "w.safetensors"
    save_file(state, str(path))
    encoder = build_encoder(name="resnet18", depth=depth, weights=str(path))
    unused = tuple(f"layer{i}." for i in range(depth, 5))
    assert not any(key.startswith(unused) for key in encoder.state_dict())
    for key, value in encoder.state_dict().items():
        assert torch.equal(value, state[key]), key


def test_dilated_encoder_loads_the_same_checkpoint(tmp_path: Path, make_checkpoint: MakeCheckpoint) -> None:
    state = make_checkpoint("resnet18")
    path = tmp_path / "w.safetensors"
    save_file(state, str(path))
    assert_loaded(build_encoder(name="resnet18", output_stride=8, weights=str(path)), state)


@pytest.mark.parametrize("broken", ["missing", "unexpected", "shape"])
def test_a_checkpoint_that_does_not_fit_is_refused(
    broken: str, tmp_path: Path, make_checkpoint: MakeCheckpoint
) -> None:
    state = make_checkpoint("resnet18")
    if broken == "missing":
        del state["layer2.1.bn2.running_var"]
        expected = "layer2.1.bn2.running_var"
    elif broken == "unexpected":
        state["layer2.2.conv1.weight"] = state["layer2.1.conv1.weight"].clone()
        expected = "layer2.2.conv1.weight"
    else:
        state["layer3.0.conv2.weight"] = torch.zeros(256, 256, 1, 1)
        expected = "layer3.0.conv2.weight"
    path = tmp_path / "w.safetensors"
    save_file(state, str(path))
    with pytest.raises(WeightsError, match=rf"(?s)does not fit encoder 'resnet18'.*{re.escape(expected)}"):
        build_encoder(name="resnet18", weights=str(path))


# --- in_channels ----------------------------------------------------------------------------------


def adapted_rule(rgb: torch.Tensor, channels: int) -> torch.Tensor:
    """The README's rule, written out independently of seghub.weights.adapt_input_conv."""
    if channels == 1:
        return rgb[:, 0:1] + rgb[:, 1:2] + rgb[:, 2:3]
    if channels == 3:
        return rgb
    return torch.stack([rgb[:, i % 3] for i in range(channels)], dim=1) * (3 / channels)


@pytest.fixture
def checkpoint_file(tmp_path: Path, make_checkpoint: MakeCheckpoint) -> tuple[Path, Checkpoint]:
    state = make_checkpoint("resnet18")
    path = tmp_path / "resnet18.safetensors"
    save_file(state, str(path))
    return path, state


@pytest.mark.parametrize("pretrained", [False, True])
@pytest.mark.parametrize("channels", [1, 2, 3, 4, 7])
def test_any_in_channels(channels: int, pretrained: bool, checkpoint_file: tuple[Path, Checkpoint]) -> None:
    path, state = checkpoint_file
    encoder = build_encoder(name="resnet18", in_channels=channels, weights=str(path) if pretrained else None)
    check_encoder_attributes(encoder)
    assert encoder.in_channels == channels
    assert encoder.conv1.weight.shape == (64, channels, 7, 7)
    if pretrained:
        torch.testing.assert_close(encoder.conv1.weight.data, adapted_rule(state["conv1.weight"], channels))
        assert_loaded(encoder, state, skip=("conv1.",))
    for train in (True, False):
        encoder.train(train)
        for batch in (1, 2):
            x = torch.randn(batch, channels, 64, 64)
            with torch.no_grad():
                check_encoder_output(encoder, x, encoder(x))


@pytest.mark.parametrize("tag_source", ["hub", "path"])
def test_grey_image_equals_its_rgb_copy(
    tag_source: str, hub_cache: Path, checkpoint_file: tuple[Path, Checkpoint]
) -> None:
    path, state = checkpoint_file
    weights = str(path)
    if tag_source == "hub":
        pinned = WEIGHTS["resnet18"]["imagenet"]
        write_hub_file(hub_cache, pinned.repo_id, pinned.revision, pinned.filename, state)
        weights = "imagenet"
    rgb_encoder = build_encoder(name="resnet18", in_channels=3, weights=weights).eval()
    grey_encoder = build_encoder(name="resnet18", in_channels=1, weights=weights).eval()
    grey = torch.rand(2, 1, 64, 64)
    with torch.no_grad():
        ours, reference = grey_encoder(grey), rgb_encoder(grey.expand(2, 3, 64, 64))
    for a, b in zip(ours, reference):
        torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("channels", [6, 9])
def test_equal_channels_keep_the_rgb_response_for_multiples_of_three(
    channels: int, checkpoint_file: tuple[Path, Checkpoint]
) -> None:
    path, _ = checkpoint_file
    rgb_encoder = build_encoder(name="resnet18", in_channels=3, weights=str(path)).eval()
    wide_encoder = build_encoder(name="resnet18", in_channels=channels, weights=str(path)).eval()
    rgb = torch.rand(1, 3, 64, 64)
    grey = rgb[:, :1]
    with torch.no_grad():
        # the RGB image repeated, and a grey image in every channel, both keep the response
        for wide, narrow in ((rgb.repeat(1, channels // 3, 1, 1), rgb), (grey.expand(1, channels, 64, 64),
                                                                        grey.expand(1, 3, 64, 64))):
            for a, b in zip(wide_encoder(wide), rgb_encoder(narrow)):
                torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("channels", [2, 4, 7])
def test_equal_channels_other_counts_follow_the_scaled_kernel_sum(
    channels: int, checkpoint_file: tuple[Path, Checkpoint]
) -> None:
    """For n not a multiple of 3 an all-equal input sees (3/n) * sum_i W[i % 3], as documented."""
    path, state = checkpoint_file
    encoder = build_encoder(name="resnet18", in_channels=channels, depth=1, weights=str(path)).eval()
    grey = torch.rand(1, 1, 32, 32)
    kernel = sum(state["conv1.weight"][:, i % 3] for i in range(channels)) * (3 / channels)
    with torch.no_grad():
        ours = encoder.conv1(grey.expand(1, channels, 32, 32))
        expected = torch.nn.functional.conv2d(grey, kernel.unsqueeze(1), stride=2, padding=3)
    torch.testing.assert_close(ours, expected, rtol=1e-4, atol=1e-5)
