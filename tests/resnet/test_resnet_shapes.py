"""Feature maps against declared channels and reductions; depth, output stride, validation."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch

from seghub._protocols import check_encoder_attributes, check_encoder_output
from seghub.errors import UnknownNameError
from seghub_encoders_resnet import ARCHS, ENCODER_NAMES, build_encoder
from seghub_encoders_resnet import _resnet

BIG = ("resnext101_32x32d", "resnext101_32x48d")


def expected_reductions(depth: int, output_stride: int) -> tuple[int, ...]:
    return tuple(min(2**k, output_stride) for k in range(1, depth + 1))


def run_checked(encoder: torch.nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    with torch.no_grad():
        features = encoder(x)
    check_encoder_output(encoder, x, features)
    assert all(torch.isfinite(f).all() for f in features)
    return features


# --- the full depth x output-stride matrix, on one basic-block and one grouped-bottleneck net --


@pytest.mark.parametrize("output_stride", [32, 16, 8])
@pytest.mark.parametrize("depth", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("name", ["resnet18", "resnext50_32x4d"])
def test_every_depth_and_output_stride(name: str, depth: int, output_stride: int) -> None:
    torch.manual_seed(0)
    encoder = build_encoder(name=name, in_channels=3, depth=depth, output_stride=output_stride, weights=None)
    check_encoder_attributes(encoder)
    assert encoder.in_channels == 3
    assert encoder.out_channels == ARCHS[name].out_channels[:depth]
    assert encoder.reductions == expected_reductions(depth, output_stride)
    for train in (True, False):
        encoder.train(train)
        for batch in (1, 2):
            features = run_checked(encoder, torch.randn(batch, 3, 64, 64))
            assert features[0].shape[0] == batch


def test_contract_example_resnet34() -> None:
    encoder = build_encoder(name="resnet34", in_channels=3, depth=5, output_stride=32, weights=None)
    assert encoder.out_channels == (64, 64, 128, 256, 512)
    assert encoder.reductions == (2, 4, 8, 16, 32)
    run_checked(encoder.eval(), torch.randn(1, 3, 64, 64))
    dilated = build_encoder(name="resnet34", in_channels=3, depth=5, output_stride=16, weights=None)
    assert dilated.reductions == (2, 4, 8, 16, 16)
    assert dilated.out_channels == (64, 64, 128, 256, 512)


# --- every encoder at full depth: train and eval, batch 1 and 2 ---------------------------------


@pytest.fixture(scope="module", params=ENCODER_NAMES)
def full_encoder(request: pytest.FixtureRequest) -> Iterator[torch.nn.Module]:
    """Each encoder built once per module (the big ResNeXts take seconds and gigabytes)."""
    torch.manual_seed(0)
    encoder = build_encoder(name=request.param, in_channels=3, depth=5, output_stride=32, weights=None)
    yield encoder
    del encoder


@pytest.mark.parametrize("batch", [1, 2])
@pytest.mark.parametrize("train", [True, False])
def test_every_encoder_forward(
    full_encoder: torch.nn.Module, train: bool, batch: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # On maps of a few pixels oneDNN spends its time re-laying out the big ResNeXt kernels
    # (seconds per call for 32x48d); ATen's own convolution is many times faster there. The
    # depth/output-stride matrix above runs on the default (oneDNN) path.
    monkeypatch.setattr(torch.backends.mkldnn, "enabled", False)
    name = full_encoder.name
    check_encoder_attributes(full_encoder)
    assert full_encoder.out_channels == ARCHS[name].out_channels
    assert full_encoder.reductions == (2, 4, 8, 16, 32)
    # 32x32 keeps the biggest nets cheap; a batch of 1 in train mode needs layer4 to be wider
    # than 1x1, or batch norm has a single value per channel to normalise
    size = 32 if name in BIG and not (train and batch == 1) else 64
    full_encoder.train(train)
    features = run_checked(full_encoder, torch.randn(batch, 3, size, size))
    assert [f.shape[1] for f in features] == list(ARCHS[name].out_channels)


def test_every_encoder_has_torchvision_key_layout(full_encoder: torch.nn.Module) -> None:
    """The key set follows from the architecture alone: stem, then blocks per stage."""
    arch = ARCHS[full_encoder.name]
    expected = {"conv1.weight", *_bn_keys("bn1")}
    convs = ("conv1", "conv2") if arch.block == "basic" else ("conv1", "conv2", "conv3")
    for stage, blocks in enumerate(arch.layers, start=1):
        for block in range(blocks):
            prefix = f"layer{stage}.{block}."
            for i, conv in enumerate(convs, start=1):
                expected.add(prefix + conv + ".weight")
                expected.update(_bn_keys(f"{prefix}bn{i}"))
            if block == 0 and (stage > 1 or arch.block == "bottleneck"):
                expected.add(prefix + "downsample.0.weight")
                expected.update(_bn_keys(prefix + "downsample.1"))
    assert set(full_encoder.state_dict()) == expected
    assert not any(key.startswith(("fc.", "avgpool")) for key in full_encoder.state_dict())


def _bn_keys(prefix: str) -> list[str]:
    return [f"{prefix}.{k}" for k in ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")]


# --- depth: unused stages are never built ----------------------------------------------------


@pytest.mark.parametrize("depth", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("name", ["resnet34", "resnext101_32x48d"])
def test_unused_stages_are_not_instantiated(name: str, depth: int, monkeypatch: pytest.MonkeyPatch) -> None:
    arch = ARCHS[name]
    block_class = _resnet.BasicBlock if arch.block == "basic" else _resnet.Bottleneck
    built: list[int] = []
    original_init = block_class.__init__

    def counting_init(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        built.append(1)
        original_init(self, *args, **kwargs)

    monkeypatch.setattr(block_class, "__init__", counting_init)
    with torch.device("meta"):  # shapes only: no memory for the big one
        encoder = build_encoder(name=name, depth=depth)
    assert len(built) == sum(arch.layers[: depth - 1])
    for stage in range(1, 5):
        assert hasattr(encoder, f"layer{stage}") == (stage < depth)
    assert hasattr(encoder, "maxpool") == (depth >= 2)
    built_stages = {key.split(".")[0] for key in encoder.state_dict() if key.startswith("layer")}
    assert built_stages == {f"layer{stage}" for stage in range(1, depth)}


# --- dilation: same parameters, larger maps --------------------------------------------------


@pytest.mark.parametrize("output_stride", [16, 8])
def test_dilation_keeps_parameters_and_enlarges_maps(output_stride: int) -> None:
    torch.manual_seed(0)
    plain = build_encoder(name="resnet18", output_stride=32).eval()
    dilated = build_encoder(name="resnet18", output_stride=output_stride).eval()
    plain_shapes = {k: v.shape for k, v in plain.state_dict().items()}
    assert {k: v.shape for k, v in dilated.state_dict().items()} == plain_shapes
    dilated.load_state_dict(plain.state_dict(), strict=True)
    x = torch.randn(1, 3, 64, 64)
    coarse, fine = run_checked(plain, x), run_checked(dilated, x)
    assert coarse[-1].shape[-1] == 2
    assert fine[-1].shape[-1] == 64 // output_stride
    # stages before the dilated ones compute exactly the same thing
    same = 4 if output_stride == 16 else 3  # stem, layer1, layer2 (and layer3 at 16)
    for a, b in zip(coarse[:same], fine[:same]):
        assert torch.equal(a, b)
    for layer, dilation in ((3, 2 if output_stride == 8 else 1), (4, 32 // output_stride)):
        convs = [m for m in getattr(dilated, f"layer{layer}").modules() if isinstance(m, torch.nn.Conv2d)]
        if dilation > 1:
            assert all(c.stride == (1, 1) for c in convs)
        assert {c.dilation for c in convs if c.kernel_size == (3, 3)} == {(dilation, dilation)}


@pytest.mark.parametrize("output_stride", [32, 16, 8])
def test_odd_input_sizes_round_up(output_stride: int) -> None:
    encoder = build_encoder(name="resnet18", output_stride=output_stride).eval()
    run_checked(encoder, torch.randn(1, 3, 65, 47))


def test_gradients_reach_every_parameter() -> None:
    torch.manual_seed(0)
    encoder = build_encoder(name="resnet18", depth=5, output_stride=16).train()
    features = encoder(torch.randn(2, 3, 64, 64))
    sum(f.mean() for f in features).backward()
    for key, parameter in encoder.named_parameters():
        assert parameter.grad is not None and torch.isfinite(parameter.grad).all(), key
        assert parameter.grad.abs().sum() > 0, key


def test_inference_pools_channels_last_with_the_same_result() -> None:
    """Without autograd the stem's max pooling runs on a channels-last copy (faster on the CPU);
    features are the same and come back in the usual contiguous layout."""
    torch.manual_seed(0)
    encoder = build_encoder(name="resnet18").eval()
    seen: list[bool] = []
    encoder.maxpool.register_forward_pre_hook(
        lambda _, args: seen.append(args[0].is_contiguous(memory_format=torch.channels_last))
    )
    x = torch.randn(2, 3, 64, 96)
    with torch.inference_mode():
        fast = encoder(x)
    recorded = encoder(x.clone().requires_grad_(True))
    assert seen == [True, False]
    for a, b in zip(fast, recorded):
        assert torch.equal(a, b) and a.is_contiguous()


def test_built_on_the_default_device_context() -> None:
    with torch.device("meta"):
        encoder = build_encoder(name="resnet18")
    assert {p.device.type for p in encoder.parameters()} == {"meta"}
    encoder = build_encoder(name="resnet18")
    assert {t.device.type for t in encoder.state_dict().values()} == {"cpu"}
    assert all(int(m.num_batches_tracked) == 0 for m in encoder.modules() if isinstance(m, torch.nn.BatchNorm2d))
    assert all(torch.equal(m.running_var, torch.ones_like(m.running_var))
               for m in encoder.modules() if isinstance(m, torch.nn.BatchNorm2d))


# --- refusals ---------------------------------------------------------------------------------


@pytest.mark.parametrize("output_stride", [0, 4, 7, 12, 24, 64, True, 16.0, "16", None])
def test_bad_output_stride_is_refused(output_stride: object) -> None:
    with pytest.raises(ValueError, match=r"output_stride must be one of 8, 16, 32"):
        build_encoder(name="resnet18", output_stride=output_stride)  # type: ignore[arg-type]


@pytest.mark.parametrize("depth", [0, 6, -1, 2.5, True])
def test_bad_depth_is_refused(depth: object) -> None:
    with pytest.raises(ValueError, match=r"depth must be an integer from 1 to 5"):
        build_encoder(name="resnet18", depth=depth)  # type: ignore[arg-type]


@pytest.mark.parametrize("in_channels", [0, -3, 1.5, True])
def test_bad_in_channels_is_refused(in_channels: object) -> None:
    with pytest.raises(ValueError, match=r"in_channels must be a positive integer"):
        build_encoder(name="resnet18", in_channels=in_channels)  # type: ignore[arg-type]


def test_unknown_name_suggests_close_ones() -> None:
    with pytest.raises(UnknownNameError, match=r"Did you mean .*'resnet34'"):
        build_encoder(name="resnet35")
