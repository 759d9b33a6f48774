"""Parameter counts, key layout and features against segmentation_models_pytorch 0.6."""

from __future__ import annotations

import pytest
import torch

from seghub_encoders_resnet import ARCHS, ENCODER_NAMES, build_encoder

# Parameters of smp 0.6.0's encoders, counted as
#   sum(p.numel() for p in segmentation_models_pytorch.encoders.get_encoder(name, weights=None).parameters())
# (in_channels 3, depth 5; smp 0.6.0, torch 2.14.1). They equal torchvision's ResNet/ResNeXt
# parameter counts without the classifier (fc). Recorded so these tests mean something without smp.
SMP_PARAM_COUNTS = {
    "resnet18": 11_176_512,
    "resnet34": 21_284_672,
    "resnet50": 23_508_032,
    "resnet101": 42_500_160,
    "resnet152": 58_143_808,
    "resnext50_32x4d": 22_979_904,
    "resnext101_32x4d": 42_128_704,
    "resnext101_32x8d": 86_742_336,
    "resnext101_32x16d": 191_977_792,
    "resnext101_32x32d": 466_481_472,
    "resnext101_32x48d": 826_362_176,
}


def count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def meta_encoder(name: str, **kwargs: object) -> torch.nn.Module:
    with torch.device("meta"):  # shapes without memory: counting is free even for 32x48d
        return build_encoder(name=name, **kwargs)  # type: ignore[arg-type]


def smp_encoder(name: str, **kwargs: object) -> torch.nn.Module:
    encoders = pytest.importorskip("segmentation_models_pytorch.encoders")
    with torch.device("meta"):
        return encoders.get_encoder(name, weights=None, **kwargs)


@pytest.mark.parametrize("name", ENCODER_NAMES)
def test_parameter_count_matches_recorded_smp_count(name: str) -> None:
    assert count(meta_encoder(name)) == SMP_PARAM_COUNTS[name]


@pytest.mark.parametrize("output_stride", [16, 8])
@pytest.mark.parametrize("name", ["resnet18", "resnext101_32x8d"])
def test_dilation_does_not_change_the_parameter_count(name: str, output_stride: int) -> None:
    assert count(meta_encoder(name, output_stride=output_stride)) == SMP_PARAM_COUNTS[name]


@pytest.mark.parametrize("name", ENCODER_NAMES)
def test_parameter_count_and_state_dict_layout_match_smp(name: str) -> None:
    reference = smp_encoder(name)
    mine = meta_encoder(name)
    assert count(mine) == count(reference) == SMP_PARAM_COUNTS[name]
    theirs = {k: tuple(v.shape) for k, v in reference.state_dict().items()}
    assert {k: tuple(v.shape) for k, v in mine.state_dict().items()} == theirs


@pytest.mark.parametrize("depth", [1, 2, 3, 4])
@pytest.mark.parametrize("name", ["resnet34", "resnext101_32x48d"])
def test_shallow_encoders_count_only_the_stages_they_use(name: str, depth: int) -> None:
    reference = smp_encoder(name)  # smp builds all stages whatever the depth
    used = [reference.conv1, reference.bn1, *(getattr(reference, f"layer{i}") for i in range(1, depth))]
    assert count(meta_encoder(name, depth=depth)) == sum(count(m) for m in used) < SMP_PARAM_COUNTS[name]


def _random_batch_norms(module: torch.nn.Module) -> None:
    generator = torch.Generator().manual_seed(1)
    for bn in module.modules():
        if isinstance(bn, torch.nn.BatchNorm2d):
            bn.running_mean.copy_(torch.randn(bn.num_features, generator=generator) * 0.1)
            bn.running_var.copy_(torch.rand(bn.num_features, generator=generator) + 0.5)
            bn.weight.data.copy_(torch.rand(bn.num_features, generator=generator) + 0.5)
            bn.bias.data.copy_(torch.randn(bn.num_features, generator=generator) * 0.1)


@pytest.mark.parametrize("name", ["resnet18", "resnext50_32x4d"])
def test_features_equal_smp_at_every_output_stride(name: str) -> None:
    """With the same weights, each map equals smp's (smp also returns the input first)."""
    encoders = pytest.importorskip("segmentation_models_pytorch.encoders")
    torch.manual_seed(0)
    source = build_encoder(name=name)
    _random_batch_norms(source)
    state = source.state_dict()
    x = torch.randn(2, 3, 32, 32)
    for output_stride in (32, 16, 8):
        mine = build_encoder(name=name, output_stride=output_stride)
        mine.load_state_dict(state, strict=True)
        reference = encoders.get_encoder(name, weights=None, output_stride=output_stride)
        reference.load_state_dict(dict(state))
        with torch.no_grad():
            ours, theirs = mine.eval()(x), reference.eval()(x)
        assert torch.equal(theirs[0], x)
        assert len(ours) == len(theirs) - 1 == 5
        for i, (a, b) in enumerate(zip(ours, theirs[1:])):
            assert a.shape == b.shape, (output_stride, i)
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5, msg=f"map {i} at output_stride {output_stride}")
        assert tuple(ARCHS[name].out_channels) == tuple(reference.out_channels[1:])
