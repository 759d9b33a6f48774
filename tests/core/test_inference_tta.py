"""seghub.inference.tta: D4 equivariance, each transform's inverse, merges by hand, scales,
(mask, label) models, composition with sliding_window, argument errors."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import seghub
from seghub.inference import TRANSFORM_NAMES, TRANSFORM_SETS, TestTimeAugmentation, sliding_window, tta

torch.set_num_threads(1)


class IntegerPointwise(nn.Module):
    """A 1x1 convolution with small integer weights: on integer inputs every sum is exact, so
    an output that only moves pixels around is bitwise the plain one."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 1)
        with torch.no_grad():
            self.conv.weight.copy_(torch.randint(-3, 4, self.conv.weight.shape, generator=torch.Generator().manual_seed(0)))
            self.conv.bias.copy_(torch.tensor([1.0, -2.0, 0.0, 5.0]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


def _integers(*shape: int) -> torch.Tensor:
    return torch.randint(-4, 5, shape, generator=torch.Generator().manual_seed(1)).float()


@pytest.mark.parametrize("transforms", ["flips", "d4"])
@pytest.mark.parametrize("merge", ["mean", "max"])
@pytest.mark.parametrize("size", [(6, 6), (5, 8)])
def test_equivariant_model_gives_exactly_its_plain_output(transforms, merge, size):
    model, x = IntegerPointwise().eval(), _integers(2, 3, *size)
    assert torch.equal(tta(model, transforms, merge=merge)(x), model(x))


def test_equivariant_model_under_gmean():
    model = nn.Sequential(IntegerPointwise(), nn.Softplus()).eval()
    x = torch.randn(1, 3, 7, 7)
    torch.testing.assert_close(tta(model, "d4", merge="gmean")(x), model(x))


def test_gradients_flow_through_every_pass():
    model, x = IntegerPointwise(), _integers(1, 3, 5, 5)
    model(x).square().sum().backward()
    plain = model.conv.weight.grad.clone()
    model.zero_grad()
    tta(model, "d4", merge="max")(x).square().sum().backward()
    torch.testing.assert_close(model.conv.weight.grad, plain)


class Coordinates(nn.Module):
    """Outputs, for each pixel of the input it is given, its row and column: not equivariant,
    so each transform's inverse shows in where the coordinates land."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-2:]
        rows = torch.arange(height, dtype=x.dtype).view(-1, 1).expand(height, width)
        cols = torch.arange(width, dtype=x.dtype).view(1, -1).expand(height, width)
        return torch.stack([rows, cols]).expand(x.shape[0], 2, height, width)


def _expected_coordinates(name: str, n: int) -> torch.Tensor:
    """Where pixel (i, j) of an n x n image sat in the transformed image the model saw,
    written out by hand (rotations counter-clockwise)."""
    position = {
        "identity": lambda i, j: (i, j),
        "hflip": lambda i, j: (i, n - 1 - j),
        "vflip": lambda i, j: (n - 1 - i, j),
        "rot90": lambda i, j: (n - 1 - j, i),  # counter-clockwise: the right column becomes the top row
        "rot180": lambda i, j: (n - 1 - i, n - 1 - j),
        "rot270": lambda i, j: (j, n - 1 - i),
        "transpose": lambda i, j: (j, i),
        "transverse": lambda i, j: (n - 1 - j, n - 1 - i),
    }[name]
    return torch.tensor([[position(i, j) for j in range(n)] for i in range(n)], dtype=torch.float32).permute(2, 0, 1)[None]


@pytest.mark.parametrize("name", TRANSFORM_NAMES)
def test_each_inverse_maps_the_mask_back(name):
    x = torch.zeros(1, 1, 4, 4)
    assert torch.equal(tta(Coordinates(), [name])(x), _expected_coordinates(name, 4))
    y = torch.randn(1, 2, 3, 5)  # an identity model gets its input back under any transform, non-square too
    assert torch.equal(tta(nn.Identity(), [name])(y), y)


def test_the_transform_sets():
    assert set(TRANSFORM_SETS["d4"]) == set(TRANSFORM_NAMES) and len(TRANSFORM_SETS["d4"]) == 8
    assert TRANSFORM_SETS["flips"] == ("identity", "hflip", "vflip", "rot180")
    # under the flips, the coordinate model's output averages each pixel with its mirror images
    got = tta(Coordinates(), "flips")(torch.zeros(1, 1, 4, 4))
    assert torch.equal(got, torch.full((1, 2, 4, 4), 1.5))


class ScaleByCorner(nn.Module):
    """Multiplies the input by its own top-left value: flipping changes that value, so the
    identity and hflip passes give different, hand-computable masks."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * x[..., :1, :1]


@pytest.mark.parametrize(
    ("merge", "factor"),
    [("mean", 1.5), ("max", 2.0), ("gmean", 2.0**0.5)],
)
def test_merges_by_hand(merge, factor):
    x = torch.tensor([[[[1.0, 2.0], [4.0, 8.0]]]])
    # identity: corner 1 -> x; hflip: corner 2 -> 2 * flipped x, flipped back -> 2 * x
    got = tta(ScaleByCorner(), ["identity", "hflip"], merge=merge)(x)
    torch.testing.assert_close(got, factor * x)


def test_max_takes_the_largest_per_pixel():
    x = torch.tensor([[[[1.0, -5.0], [0.0, 3.0]]]])
    # identity -> x; vflip of [[0, 3], [1, -5]] scaled by corner 0 -> zeros
    assert torch.equal(tta(ScaleByCorner(), ["identity", "vflip"], merge="max")(x), torch.tensor([[[[1.0, 0.0], [0.0, 3.0]]]]))


def test_gmean_refuses_negative_outputs():
    with pytest.raises(ValueError, match="merge='gmean' needs non-negative outputs"):
        tta(nn.Identity(), "flips", merge="gmean")(-torch.ones(1, 1, 2, 2))


class RecordingIdentity(nn.Module):
    def __init__(self, input_divisor: int | None = None) -> None:
        super().__init__()
        self.seen: list[tuple[int, int]] = []
        if input_divisor is not None:
            self.input_divisor = input_divisor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen.append(tuple(x.shape[-2:]))
        return x


def test_scales_resize_the_input_and_the_mask_back():
    model = RecordingIdentity()
    x = torch.full((1, 2, 8, 12), 3.0)
    got = tta(model, ["identity", "rot90"], scales=(0.5, 2.0))(x)
    assert model.seen == [(4, 6), (6, 4), (16, 24), (24, 16)]
    assert torch.allclose(got, x)  # a constant survives bilinear resizing both ways


def test_scaled_sizes_round_to_the_input_divisor():
    model = RecordingIdentity(input_divisor=8)
    module = tta(model, ["identity"], scales=(0.75, 1.25, 0.1))
    assert module.input_divisor == 8
    module(torch.zeros(1, 1, 24, 40))
    # 18 -> 16 and 30 -> 32; 30 -> 32 and 50 -> 48; 2.4 and 4 -> at least one divisor
    assert model.seen == [(16, 32), (32, 48), (8, 8)]


class MaskAndLabel(nn.Module):
    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return x * x[..., :1, :1], x[..., 0, 0]


def test_mask_and_label_are_both_merged():
    x = torch.tensor([[[[1.0, 2.0], [4.0, 8.0]]]])
    mask, label = tta(MaskAndLabel(), ["identity", "hflip"])(x)
    torch.testing.assert_close(mask, 1.5 * x)
    torch.testing.assert_close(label, torch.tensor([[1.5]]))  # corners 1 and 2


def test_composes_with_sliding_window():
    model, x = IntegerPointwise().eval(), _integers(1, 3, 40, 29)
    plain = sliding_window(model, x, window=16, blend="gaussian")
    torch.testing.assert_close(sliding_window(tta(model, "d4"), x, window=16, blend="gaussian"), plain)


def test_sliding_window_pads_to_the_wrapped_models_divisor(toy):
    torch.manual_seed(0)
    model = seghub.build_model({"encoder": {"name": "toy", "depth": 3}, "decoder": {"name": "toyhead"}}).eval()
    wrapped = tta(model, "d4", scales=(1.0, 0.5))
    assert isinstance(wrapped, TestTimeAugmentation) and wrapped.model is model
    assert sliding_window(wrapped, torch.randn(1, 3, 30, 45), window=(20, 20)).shape == (1, 1, 30, 45)
    assert "transforms=['identity', 'rot90'" in repr(wrapped)


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "fragment"),
    [
        (("d8",), {}, ValueError, "transforms must be 'flips' or 'd4' or a non-empty list of 'identity', 'hflip'"),
        ((["hflip", "spin"],), {}, ValueError, "got \\['hflip', 'spin'\\]"),
        (([],), {}, ValueError, "non-empty list"),
        ((), {"merge": "median"}, ValueError, "merge must be one of 'mean', 'max', 'gmean'"),
        ((), {"scales": ()}, ValueError, "scales must be a non-empty sequence of positive numbers"),
        ((), {"scales": (1.0, -2.0)}, ValueError, "scales must be"),
        ((), {"scales": 2.0}, ValueError, "scales must be"),
    ],
)
def test_bad_arguments(args, kwargs, error, fragment):
    with pytest.raises(error, match=fragment):
        tta(nn.Identity(), *args, **kwargs)


def test_model_must_be_a_module():
    with pytest.raises(TypeError, match="model must be an nn.Module, got function"):
        tta(lambda x: x)
