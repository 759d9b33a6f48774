"""Weights: first-conv adaptation, safetensors-only loading, offline Hugging Face cache."""

from __future__ import annotations

import pytest
import torch

from seghub.errors import WeightsError
from seghub.testing import offline_hub_cache, write_hub_file
from seghub.weights import PretrainedWeights, adapt_input_conv, load_state_dict

REV = "a" * 40


def test_one_channel_is_the_sum_so_grey_equals_rgb():
    weight = torch.randn(8, 3, 3, 3)
    grey = torch.randn(1, 1, 9, 9)
    adapted = adapt_input_conv(weight, 1)
    assert adapted.shape == (8, 1, 3, 3)
    out_grey = torch.nn.functional.conv2d(grey, adapted)
    out_rgb = torch.nn.functional.conv2d(grey.expand(1, 3, 9, 9), weight)
    assert torch.allclose(out_grey, out_rgb, atol=1e-5)


@pytest.mark.parametrize("channels", [2, 4, 5, 7])
def test_more_channels_repeat_cyclically_and_keep_the_response(channels):
    weight = torch.randn(8, 3, 3, 3)
    adapted = adapt_input_conv(weight, channels)
    assert adapted.shape == (8, channels, 3, 3)
    for i in range(channels):
        assert torch.allclose(adapted[:, i], weight[:, i % 3] * 3 / channels)
    flat = torch.randn(1, 1, 9, 9)  # all channels equal: the kernels' sum is what counts
    out_n = torch.nn.functional.conv2d(flat.expand(1, channels, 9, 9), adapted)
    expected = sum(weight[:, i % 3] for i in range(channels)) * 3 / channels
    assert torch.allclose(out_n, torch.nn.functional.conv2d(flat, expected.unsqueeze(1)), atol=1e-5)


def test_three_channels_are_unchanged():
    weight = torch.randn(8, 3, 3, 3)
    assert adapt_input_conv(weight, 3) is weight


def test_six_channels_keep_the_rgb_response_exactly():
    weight = torch.randn(8, 3, 3, 3)
    rgb = torch.randn(1, 3, 9, 9)
    out = torch.nn.functional.conv2d(torch.cat([rgb, rgb], 1), adapt_input_conv(weight, 6))
    assert torch.allclose(out, torch.nn.functional.conv2d(rgb, weight), atol=1e-5)


def test_bad_channel_count():
    with pytest.raises(ValueError, match="positive"):
        adapt_input_conv(torch.randn(2, 3, 1, 1), 0)


def test_load_from_offline_hub_cache(tmp_path):
    tensors = {"conv.weight": torch.randn(2, 3, 1, 1)}
    write_hub_file(tmp_path, "seghub-test/toy", REV, "model.safetensors", tensors)
    weights = PretrainedWeights("seghub-test/toy", REV)
    with offline_hub_cache(tmp_path):
        loaded = load_state_dict(weights, encoder="toy", tag="toyset")
    assert torch.equal(loaded["conv.weight"], tensors["conv.weight"])


def test_missing_weights_offline_say_what_and_how_to_do_without(tmp_path):
    weights = PretrainedWeights("seghub-test/absent", REV, filename="w.safetensors")
    with offline_hub_cache(tmp_path), pytest.raises(WeightsError) as info:
        load_state_dict(weights, encoder="toy", tag="imagenet")
    message = str(info.value)
    for fragment in ("'imagenet' of encoder 'toy'", "'w.safetensors'", "'seghub-test/absent'", REV, "offline", "encoder.weights to null"):
        assert fragment in message


def test_truncated_or_pickled_files_are_refused(tmp_path):
    good = write_hub_file(tmp_path, "seghub-test/toy", REV, "model.safetensors", {"w": torch.ones(64)})
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(good.read_bytes()[:-16])
    with pytest.raises(WeightsError, match="corrupt or truncated"):
        load_state_dict(truncated)
    pickle = tmp_path / "model.bin"
    torch.save({"w": torch.ones(1)}, pickle)
    with pytest.raises(WeightsError, match="only .safetensors"):
        load_state_dict(pickle)
    with pytest.raises(WeightsError, match="does not exist"):
        load_state_dict(tmp_path / "nothing.safetensors")
