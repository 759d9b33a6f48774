"""seghub.inference.sliding_window: MONAI parity, hand-computed blends, the model's input
divisor, (mask, label) models, progress and argument errors."""

from __future__ import annotations

import math

import pytest
import torch
from monai.data.utils import compute_importance_map
from monai.inferers import sliding_window_inference
from torch import nn

import seghub
from seghub.inference import sliding_window
from seghub.inference._windows import importance_map, plan_axis

torch.set_num_threads(1)


def _net(in_channels: int = 3, classes: int = 2) -> nn.Module:
    """A small any-size conv net whose outputs depend on their neighbourhood, so a misplaced
    window shows."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(in_channels, 6, 3, padding=1), nn.Tanh(), nn.Conv2d(6, classes, 5, padding=2)).eval()


def _image(*shape: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(sum(shape)))


def _monai(net: nn.Module, image: torch.Tensor, window: tuple[int, int], **kwargs) -> torch.Tensor:
    with torch.no_grad():
        return sliding_window_inference(image, window, 3, net, **kwargs)


SIZES = [(20, 20), (20, 90), (50, 37), (70, 130), (96, 64)]  # under the window, in one axis, not divisible, non-square


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("window", [(32, 32), (24, 40)])
def test_defaults_equal_monai_defaults(size, window):
    net, image = _net(), _image(2, 3, *size)
    ours = sliding_window(net, image, window=window)
    assert ours.shape == (2, 2, *size)
    torch.testing.assert_close(ours, _monai(net, image, window), rtol=0, atol=1e-5)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("overlap", [0.0, 0.25, 0.5, 0.8])
@pytest.mark.parametrize("blend", ["constant", "gaussian"])
def test_blend_and_overlap_equal_monai(size, overlap, blend):
    net, image = _net(), _image(1, 3, *size)
    ours = sliding_window(net, image, window=(32, 24), overlap=overlap, blend=blend, batch_size=5)
    torch.testing.assert_close(ours, _monai(net, image, (32, 24), overlap=overlap, mode=blend), rtol=0, atol=1e-5)


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        ({"sigma_scale": 0.3}, {"sigma_scale": 0.3}),
        ({"sigma_scale": (0.05, 0.2), "overlap": (0.5, 0.1)}, {"sigma_scale": (0.05, 0.2), "overlap": (0.5, 0.1)}),
        ({"pad_mode": "constant", "pad_value": 1.5}, {"padding_mode": "constant", "cval": 1.5}),
        ({"pad_mode": "reflect"}, {"padding_mode": "reflect"}),
        ({"pad_mode": "replicate"}, {"padding_mode": "replicate"}),
        ({"pad_mode": "circular"}, {"padding_mode": "circular"}),
    ],
)
def test_options_equal_monai(ours, theirs):
    net, image = _net(), _image(2, 3, 20, 45)  # padded in height only
    got = sliding_window(net, image, window=(28, 16), blend="gaussian", **ours)
    torch.testing.assert_close(got, _monai(net, image, (28, 16), mode="gaussian", **theirs), rtol=0, atol=1e-5)


def test_double_precision_stays_double():
    net, image = _net().double(), _image(1, 3, 40, 50).double()
    got = sliding_window(net, image, window=16, blend="gaussian", overlap=0.5)
    assert got.dtype == torch.float64
    torch.testing.assert_close(got, _monai(net, image, (16, 16), mode="gaussian", overlap=0.5), rtol=0, atol=1e-12)


class WindowMean(nn.Module):
    """Each window's output is the mean of its input, everywhere: the blend is then easy to
    compute by hand."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(-2, -1), keepdim=True).expand_as(x)


def test_constant_blend_by_hand():
    image = torch.tensor([[[[0.0, 3.0, 6.0]]]])
    # window 2, overlap 0.5: windows [0, 3] and [3, 6], means 1.5 and 4.5; the middle pixel averages both
    got = sliding_window(WindowMean(), image, window=(1, 2), overlap=0.5)
    assert torch.allclose(got, torch.tensor([[[[1.5, 3.0, 4.5]]]]))


def test_gaussian_blend_by_hand():
    image = torch.tensor([[[[0.0, 3.0, 6.0, 12.0]]]])
    # window 3, overlap 0.5: step int(1.5) = 1, windows [0, 3, 6] (mean 3) and [3, 6, 12] (mean 7);
    # sigma = 0.125 * 3, the window's ends weigh e = exp(-1 / (2 sigma^2)), its centre 1
    edge = math.exp(-1 / (2 * 0.375**2))
    expected = [3.0, (3 * 1 + 7 * edge) / (1 + edge), (3 * edge + 7 * 1) / (edge + 1), 7.0]
    got = sliding_window(WindowMean(), image, window=(1, 3), overlap=0.5, blend="gaussian")
    torch.testing.assert_close(got, torch.tensor([[[expected]]]))


@pytest.mark.parametrize(
    ("size", "window", "overlap", "starts"),
    [
        (10, 4, 0.25, (0, 3, 6)),  # step 3, the windows end exactly at the edge
        (11, 4, 0.25, (0, 3, 6, 7)),  # the last window moved back to end at the edge
        (10, 4, 0.0, (0, 4, 6)),
        (4, 4, 0.5, (0,)),
        (3, 4, 0.5, (0,)),  # padded by 1, after the image
        (2, 5, 0.5, (-1,)),  # padded by 3: 1 before, 2 after
        (5, 3, 0.9, (0, 1, 2)),  # step int(0.3) = 0 becomes 1
    ],
)
def test_window_starts_by_hand(size, window, overlap, starts):
    assert plan_axis(size, window, overlap).starts == starts


@pytest.mark.parametrize("window", [(1, 1), (7, 4), (64, 33)])
@pytest.mark.parametrize("scale", [0.125, 0.5])
def test_gaussian_importance_map(window, scale):
    got = importance_map(window, blend="gaussian", sigma_scale=(scale, scale), dtype=torch.float32, device=torch.device("cpu"))
    rows = [math.exp(-((i - (window[0] - 1) / 2) ** 2) / (2 * (scale * window[0]) ** 2)) for i in range(window[0])]
    cols = [math.exp(-((j - (window[1] - 1) / 2) ** 2) / (2 * (scale * window[1]) ** 2)) for j in range(window[1])]
    products = [r * c for r in rows for c in cols]
    floor = max(min(products), 1e-3)
    expected = torch.tensor([max(p, floor) for p in products]).view(window)
    torch.testing.assert_close(got, expected)
    torch.testing.assert_close(got, compute_importance_map(window, mode="gaussian", sigma_scale=scale), rtol=0, atol=1e-7)


def _toy_model(toy, classification: bool = False) -> seghub.SegmentationModel:
    torch.manual_seed(0)
    spec = {"encoder": {"name": "toy", "depth": 3}, "decoder": {"name": "toyhead"}, "segmentation_head": {"classes": 3}}
    if classification:
        spec["classification_head"] = {"classes": 4}
    return seghub.build_model(spec).eval()


@pytest.mark.parametrize(("size", "window"), [((37, 50), (30, 21)), ((9, 70), (16, 16)), ((64, 64), (40, 24))])
def test_segmentation_model_windows_are_padded_to_its_divisor(toy, size, window):
    model = _toy_model(toy)
    assert model.input_divisor == 8
    seen: list[tuple[int, int]] = []
    model.register_forward_pre_hook(lambda module, args: seen.append(tuple(args[0].shape[-2:])))
    got = sliding_window(model, _image(1, 3, *size), window=window, overlap=0.5)
    assert got.shape == (1, 3, *size) and torch.isfinite(got).all()
    assert seen and all(h % 8 == 0 and w % 8 == 0 for h, w in seen)
    assert set(seen) == {(math.ceil(window[0] / 8) * 8, math.ceil(window[1] / 8) * 8)}


class Pointwise(nn.Module):
    """A 1x1 convolution that declares an input divisor it does not need: padding the windows
    to it must not change what lands in the image."""

    def __init__(self, input_divisor: int | None) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(3, 2, 1)
        if input_divisor is not None:
            self.input_divisor = input_divisor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if hasattr(self, "input_divisor"):
            assert x.shape[-2] % self.input_divisor == 0 and x.shape[-1] % self.input_divisor == 0
        return self.conv(x)


@pytest.mark.parametrize("pad_mode", ["constant", "reflect", "replicate"])
def test_divisor_padding_is_cropped_away(pad_mode):
    image = _image(1, 3, 19, 60)
    got = sliding_window(Pointwise(8), image, window=(25, 13), blend="gaussian", pad_mode=pad_mode)
    expected = _monai(Pointwise(None), image, (25, 13), mode="gaussian", padding_mode=pad_mode)
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-5)


def test_mask_of_mask_and_label(toy):
    with_label, plain = _toy_model(toy, classification=True), _toy_model(toy)
    plain.load_state_dict(with_label.state_dict(), strict=False)
    image = _image(2, 3, 40, 56)
    assert isinstance(with_label(image[:, :, :32, :32]), tuple)
    torch.testing.assert_close(sliding_window(with_label, image, window=32), sliding_window(plain, image, window=32))


def test_image_without_batch_axis():
    net, image = _net(), _image(3, 30, 41)
    got = sliding_window(net, image, window=16)
    assert got.shape == (2, 30, 41)
    torch.testing.assert_close(got, sliding_window(net, image[None], window=16)[0])


def test_output_device_defaults_to_the_image_and_can_be_named():
    net, image = _net(), _image(1, 3, 30, 30)
    assert sliding_window(net, image, window=16).device == image.device
    assert sliding_window(net, image, window=16, device="cpu").device == torch.device("cpu")


def test_progress_bar_counts_windows(capsys):
    net, image = _net(), _image(2, 3, 40, 40)  # 3 x 3 windows per image
    sliding_window(net, image, window=16, overlap=0.25)
    assert capsys.readouterr().err == ""
    sliding_window(net, image, window=16, overlap=0.25, batch_size=4, progress=True)
    err = capsys.readouterr().err
    assert "sliding window" in err and "18/18" in err
    sliding_window(net, image, window=16, progress="tile.png")
    assert "tile.png" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("kwargs", "error", "fragment"),
    [
        ({"window": 0}, ValueError, "window must be positive"),
        ({"window": (16, 16, 16)}, TypeError, "window must be one int or a pair"),
        ({"window": 16.0}, TypeError, "window must be one int"),
        ({"window": 16, "overlap": 1.0}, ValueError, "overlap must be in [0, 1)"),
        ({"window": 16, "overlap": -0.1}, ValueError, "overlap must be in [0, 1)"),
        ({"window": 16, "blend": "linear"}, ValueError, "blend must be one of 'constant', 'gaussian'"),
        ({"window": 16, "sigma_scale": 0}, ValueError, "sigma_scale must be positive"),
        ({"window": 16, "pad_mode": "edge"}, ValueError, "pad_mode must be one of 'constant', 'reflect'"),
        ({"window": 16, "batch_size": 0}, ValueError, "batch_size must be a positive int"),
        ({"window": 16, "batch_size": True}, ValueError, "batch_size must be a positive int"),
    ],
)
def test_bad_arguments(kwargs, error, fragment):
    with pytest.raises(error, match=fragment.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")):
        sliding_window(_net(), _image(1, 3, 20, 20), **kwargs)


@pytest.mark.parametrize(
    ("image", "error", "fragment"),
    [
        (torch.zeros(20, 20), ValueError, r"shape \(N, C, H, W\) or \(C, H, W\), got \(20, 20\)"),
        (torch.zeros(1, 3, 20, 20, dtype=torch.uint8), TypeError, "must be floating point"),
        ([[0.0]], TypeError, "image must be a torch.Tensor, got list"),
    ],
)
def test_bad_images(image, error, fragment):
    with pytest.raises(error, match=fragment):
        sliding_window(_net(), image, window=16)


def test_model_that_changes_the_size_is_refused():
    with pytest.raises(ValueError, match=r"masks of shape \(2, K, 16, 16\), got \(2, 2, 8, 8\)"):
        sliding_window(nn.Sequential(_net(), nn.MaxPool2d(2)), _image(1, 3, 16, 30), window=16, batch_size=2)


def test_reflection_wider_than_the_image_is_refused():
    with pytest.raises(ValueError, match="pad_mode='reflect' cannot pad"):
        sliding_window(_net(), _image(1, 3, 4, 4), window=16, pad_mode="reflect")
