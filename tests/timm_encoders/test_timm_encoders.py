"""timm encoders built through the factory: shapes against declared reductions, depth,
in_channels, output_stride, ViT block selection, extra timm arguments, and refusals."""

from __future__ import annotations

import pytest
import seghub
import torch
from seghub._protocols import check_encoder_attributes, check_encoder_output
from seghub.errors import InputShapeError
from seghub_encoders_timm._encoder import TimmPyramidEncoder, TimmViTEncoder

SIZE = 64


def build(
    name: str, *, in_channels: int = 3, depth: int = 5, output_stride: int = 32, weights: str | None = None,
    **params: object,
) -> torch.nn.Module:
    """The encoder as build_model makes it: params validated by the registry entry, then the factory."""
    entry = seghub.get_hub().encoder(name)
    return entry.create(
        in_channels=in_channels, depth=depth, output_stride=output_stride, weights=weights,
        params=entry.validate_params(params),
    )


def run(encoder: torch.nn.Module, in_channels: int, size: int = SIZE) -> list[torch.Tensor]:
    check_encoder_attributes(encoder)
    x = torch.randn(1, in_channels, size, size)
    with torch.no_grad():
        features = encoder.eval()(x)
    check_encoder_output(encoder, x, features)
    return features


CASES = [
    # name, depth, in_channels, reductions
    ("timm:test_resnet", 5, 3, (2, 4, 8, 16, 32)),
    ("tu-test_resnet", 3, 1, (2, 4, 8)),
    ("timm:test_efficientnet", 5, 4, (2, 4, 8, 16, 32)),
    ("timm:test_efficientnet", 2, 3, (2, 4)),
    ("timm:test_convnext", 5, 3, (4, 8, 16, 32)),
    ("timm:test_convnext", 3, 2, (4, 8)),
    ("timm:test_mambaout", 5, 1, (4, 8, 16, 32)),
    ("timm:test_mambaout", 4, 3, (4, 8, 16)),
    ("timm:test_vit", 4, 3, (16, 16, 16, 16)),
    ("tu-test_vit", 2, 1, (16, 16)),
]


@pytest.mark.parametrize(("name", "depth", "in_channels", "reductions"), CASES)
def test_shapes_match_declarations(name: str, depth: int, in_channels: int, reductions: tuple[int, ...]) -> None:
    encoder = build(name, depth=depth, in_channels=in_channels)
    assert encoder.name == "timm:" + name.split(":")[-1].removeprefix("tu-")
    assert encoder.in_channels == in_channels
    assert encoder.reductions == reductions
    run(encoder, in_channels)


def test_channels_last_features_come_out_nchw() -> None:
    encoder = build("timm:test_mambaout")
    assert isinstance(encoder, TimmPyramidEncoder) and encoder._channels_last
    assert encoder.out_channels == (16, 32, 48, 64)
    features = run(encoder, 3)
    assert all(f.is_contiguous() for f in features)


def test_vit_blocks_and_prefix_tokens() -> None:
    encoder = build("timm:test_vit", depth=4)
    assert isinstance(encoder, TimmViTEncoder)
    assert encoder.indices == (0, 2, 3, 5)  # spread evenly over 6 blocks, last included (smp's choice)
    assert encoder.num_prefix_tokens == 1
    assert not hasattr(encoder.model, "head") or isinstance(encoder.model.head, torch.nn.Identity)
    x = torch.randn(2, 3, 48, 80)  # any multiple of the patch size (dynamic_img_size)
    with torch.no_grad():
        features, tokens = encoder.eval().forward_with_tokens(x)
        plain = encoder(x)
    check_encoder_output(encoder, x, features)
    assert tokens is not None and [t.shape for t in tokens] == [torch.Size([2, 1, 64])] * 4
    assert all(torch.equal(a, b) for a, b in zip(features, plain))


def test_vit_output_indices_and_pruning() -> None:
    encoder = build("timm:test_vit", depth=2, output_indices=[1, -3])
    assert encoder.indices == (1, 3)
    assert len(encoder.model.blocks) == 4  # blocks after the last one used are dropped
    run(encoder, 3)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(depth=3, output_indices=[0, 1]), "has 2 entries but encoder.depth is 3"),
        (dict(depth=2, output_indices=[0, 6]), r"output_indices \[6\] out of range"),
        (dict(depth=2, output_indices=[3, 1]), "distinct blocks in order"),
        (dict(depth=7), "encoder.depth=7 .* gives 1..6 features"),
        (dict(output_stride=8), "output_stride=8 .* cannot dilate"),
    ],
)
def test_vit_refusals(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build("timm:test_vit", **kwargs)


@pytest.mark.parametrize(("output_stride", "reductions"), [(16, (2, 4, 8, 16, 16)), (8, (2, 4, 8, 8, 8))])
def test_output_stride_dilates(output_stride: int, reductions: tuple[int, ...]) -> None:
    encoder = build("timm:test_resnet", output_stride=output_stride)
    assert encoder.reductions == reductions
    run(encoder, 3)


def test_output_stride_refused_where_timm_cannot_dilate() -> None:
    with pytest.raises(ValueError, match=r"output_stride=16 is not supported by 'timm:test_mambaout'.*>= 32"):
        build("timm:test_mambaout", output_stride=16)
    # a depth that stops at or above the output stride needs no dilation
    assert build("timm:test_mambaout", depth=4, output_stride=16).reductions == (4, 8, 16)


@pytest.mark.parametrize(
    ("name", "kwargs", "error", "message"),
    [
        ("timm:test_convnext", dict(depth=1), ValueError, r"encoder.depth=1 .* allowed 2..5"),
        ("timm:test_resnet", dict(depth=6), ValueError, r"allowed 1..5"),
        ("timm:test_resnet", dict(output_indices=[1]), ValueError, "applies to plain ViTs only"),
        ("timm:test_resnet", dict(in_chans=1), ValueError, "set encoder.in_channels instead"),
        ("timm:test_resnet", dict(drop_path_rat=0.1), ValueError, "timm cannot build 'timm:test_resnet'.*drop_path_rat"),
    ],
)
def test_refusals(name: str, kwargs: dict, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        build(name, **kwargs)


def test_extra_timm_arguments_pass_through() -> None:
    encoder = build("timm:test_convnext", drop_path_rate=0.2)
    rates = [m.drop_prob for m in encoder.modules() if type(m).__name__ == "DropPath"]
    assert rates and max(rates) == pytest.approx(0.2)


def test_fixed_size_model_refuses_other_sizes() -> None:
    encoder = build("timm:test_maxvit", depth=3)
    assert encoder.input_size == (160, 160)
    with pytest.raises(InputShapeError, match="takes only 160x160 inputs, got 64x64"):
        encoder(torch.randn(1, 3, 64, 64))
    run(encoder, 3, size=160)


def test_a_shallow_efficientnet_keeps_only_the_stages_it_uses() -> None:
    """timm's EfficientNet feature class builds and runs every stage whatever out_indices asks;
    the encoder drops those after its last feature, so every parameter trains."""
    torch.manual_seed(0)
    shallow, full = build("timm:test_efficientnet", depth=3), build("timm:test_efficientnet", depth=5)
    assert len(shallow.model.blocks) < len(full.model.blocks)
    features = shallow.train()(torch.randn(2, 3, 64, 64))
    sum(f.mean() for f in features).backward()
    assert [n for n, p in shallow.named_parameters() if p.grad is None] == []
    # an smp checkpoint keeps those stages: importing it drops their keys
    assert set(shallow.smp_state_dict_to_seghub(full.state_dict())) == set(shallow.state_dict())
