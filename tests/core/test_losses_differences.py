"""Where seghub.losses deliberately differs from smp 0.6 (README, "Deliberate differences from
smp"), each checked against a value computed by hand on a tiny tensor, with smp's value next
to it where smp gives one; and the rules behind them (ignore_index and class_weights mean the
same in every loss), checked on every loss."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

import seghub.losses as ours

smp_losses = pytest.importorskip("segmentation_models_pytorch.losses")


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny tensors: one thread is fastest, and the machine is shared."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)

LN2 = math.log(2)


def softplus(x: float) -> float:
    return math.log1p(math.exp(x))


def probs(*pixels: list[float]) -> torch.Tensor:
    """(1, C, 1, P) probabilities from one list per pixel."""
    return torch.tensor(pixels).T.reshape(1, len(pixels[0]), 1, len(pixels))


def grad_of(loss, x, y):
    x = x.clone().requires_grad_(True)
    value = loss(x, y)
    (grad,) = torch.autograd.grad(value.sum(), x)
    return value.detach(), grad


# 1. Overlap losses: a class without target pixels has no term (smp: a 0 that counts in the mean)

ABSENT = probs([0.8, 0.1, 0.1], [0.6, 0.3, 0.1])  # three classes, two pixels


@pytest.mark.parametrize(
    ("name", "target", "weights", "expected", "smp_expected"),
    [
        # class 0 alone: TP 1.4, predicted 1.4, true 2; Dice 1.4 / (1.4 + 0.3) = 14/17
        ("DiceLoss", [0, 0], None, 3 / 17, 1 / 17),
        ("DiceLoss", [0, 0], [2.0, 1.0, 1.0], 3 / 17, 3 / 34),
        # Jaccard 1.4 / 2.0
        ("JaccardLoss", [0, 0], None, 0.3, 0.1),
        ("TverskyLoss", [0, 0], None, 3 / 17, 1 / 17),
        # class 0: 0.8 / (0.8 + 0.3 + 0.1) = 2/3, class 1: 0.3 / (0.3 + 0.05 + 0.35) = 3/7, class 2 absent
        ("DiceLoss", [0, 1], [1.0, 3.0, 1.0], (1 / 3 + 3 * 4 / 7) / 4, (1 / 3 + 3 * 4 / 7) / 5),
    ],
)
def test_a_class_absent_from_the_target_is_left_out_of_the_mean(name, target, weights, expected, smp_expected):
    y = torch.tensor([[target]])
    kwargs = {"mode": "multiclass", "from_logits": False, "class_weights": weights}
    assert getattr(ours, name)(**kwargs)(ABSENT, y).item() == pytest.approx(expected, rel=1e-6)
    assert getattr(smp_losses, name)(**kwargs)(ABSENT, y).item() == pytest.approx(smp_expected, rel=1e-6)


@pytest.mark.parametrize(("name", "option"), [("DiceLoss", {}), ("JaccardLoss", {"log_loss": True}), ("TverskyLoss", {"gamma": 0.5})])
def test_no_class_present_gives_zero_and_no_gradient(name, option):
    loss = getattr(ours, name)("multiclass", ignore_index=255, **option)
    value, grad = grad_of(loss, torch.randn(1, 3, 2, 2), torch.full((1, 2, 2), 255))
    assert value.item() == 0 and not grad.any()


def test_per_image_averages_the_images_scores():
    """A seghub addition (smp's maintainers asked for it): per_image=True scores each image."""
    x = torch.cat([ABSENT, probs([0.5, 0.4, 0.1], [0.2, 0.7, 0.1])])
    y = torch.tensor([[[0, 0]], [[1, 1]]])
    # image 1: class 0, loss 3/17; image 2: class 1, TP 1.1, predicted 1.1, true 2: 1.1 / 1.55
    per_image = ours.DiceLoss("multiclass", from_logits=False, per_image=True)(x, y)
    assert per_image.item() == pytest.approx((3 / 17 + (1 - 1.1 / 1.55)) / 2, rel=1e-6)
    # the batch: class 0 TP 1.4, predicted 2.1, true 2; class 1 TP 1.1, predicted 1.5, true 2; class 2 absent
    batch = ours.DiceLoss("multiclass", from_logits=False)(x, y)
    assert batch.item() == pytest.approx(((1 - 1.4 / 2.05) + (1 - 1.1 / 1.75)) / 2, rel=1e-6)


# 2. SoftBCEWithLogitsLoss and SoftCrossEntropyLoss: "mean" divides by the non-ignored count


def test_soft_bce_mean_leaves_ignored_entries_out():
    x, y = torch.zeros(1, 1, 1, 3), torch.tensor([[[[1.0, 0.0, 255.0]]]])
    value, grad = grad_of(ours.SoftBCEWithLogitsLoss(ignore_index=255), x, y)
    assert value.item() == pytest.approx(LN2)  # each counted entry: log 2
    torch.testing.assert_close(grad, torch.tensor([[[[-0.25, 0.25, 0.0]]]]))  # (sigmoid(0) - t) / 2
    assert smp_losses.SoftBCEWithLogitsLoss(ignore_index=255)(x, y).item() == pytest.approx(2 * LN2 / 3)


def test_soft_bce_class_weights_weigh_each_channel_and_divide_by_their_sum():
    x = torch.tensor([[[[1.0, 0.0]], [[0.0, 2.0]]]])  # (1, 2, 1, 2)
    y = torch.tensor([[[[1.0, 255.0]], [[0.0, 1.0]]]])
    value = ours.SoftBCEWithLogitsLoss(ignore_index=255, class_weights=[1.0, 3.0])(x, y)
    terms = 1 * softplus(-1.0) + 3 * softplus(0.0) + 3 * softplus(-2.0)  # BCE(x, 1) = softplus(-x)
    assert value.item() == pytest.approx(terms / 7, rel=1e-6)


def test_soft_cross_entropy_mean_leaves_ignored_pixels_out():
    x, y = torch.tensor([[[[2.0, 0.0]], [[0.0, 0.0]]]]), torch.tensor([[[0, 255]]])
    nll = softplus(-2.0)  # -log softmax([2, 0])[0]
    smoothed = 0.9 * nll + 0.1 / 2 * (nll + (2.0 + nll))  # the smooth term: -sum of log-probabilities
    value = ours.SoftCrossEntropyLoss(smooth_factor=0.1, ignore_index=255)(x, y)
    assert value.item() == pytest.approx(smoothed, rel=1e-6)
    assert smp_losses.SoftCrossEntropyLoss(smooth_factor=0.1, ignore_index=255)(x, y).item() == pytest.approx(smoothed / 2, rel=1e-6)


def test_soft_cross_entropy_default_smooth_factor_means_none():
    x, y = torch.tensor([[[[2.0]], [[0.0]]]]), torch.tensor([[[0]]])
    assert ours.SoftCrossEntropyLoss()(x, y).item() == pytest.approx(softplus(-2.0), rel=1e-6)
    with pytest.raises(TypeError):  # smp 0.6 divides None by the number of classes
        smp_losses.SoftCrossEntropyLoss()(x, y)


def test_soft_cross_entropy_none_has_the_target_shape():
    x, y = torch.randn(2, 3, 4, 5), torch.randint(0, 3, (2, 4, 5))
    assert ours.SoftCrossEntropyLoss(reduction="none")(x, y).shape == (2, 4, 5)
    assert smp_losses.SoftCrossEntropyLoss(reduction="none", smooth_factor=0.0)(x, y).shape == (2, 1, 4, 5)


def test_soft_cross_entropy_class_weights_are_torchs_weight():
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(2, 3, 4, 5, generator=g), torch.randint(0, 3, (2, 4, 5), generator=g)
    y[0, 0] = -100
    weights = [1.0, 2.0, 0.5]
    for reduction in ("mean", "sum", "none"):
        mine = ours.SoftCrossEntropyLoss(reduction=reduction, smooth_factor=0.1, class_weights=weights)(x, y)
        torch.testing.assert_close(mine, F.cross_entropy(x, y, torch.tensor(weights), reduction=reduction, label_smoothing=0.1))


# 3. FocalLoss


def test_focal_multiclass_from_probabilities_uses_them_as_they_are():
    x, y = probs([0.8, 0.2]), torch.tensor([[[0]]])
    # class 0: target 1, p 0.8; class 1: target 0, p 0.2; both -log 0.8
    assert ours.FocalLoss("multiclass", gamma=0.0, from_logits=False)(x, y).item() == pytest.approx(-math.log(0.8), rel=1e-5)
    assert ours.FocalLoss("multiclass", from_logits=False)(x, y).item() == pytest.approx(0.04 * -math.log(0.8), rel=1e-5)
    # smp takes log p as the logit: sigmoid(log p) = p / (1 + p)
    smp_value = smp_losses.FocalLoss("multiclass", gamma=0.0, from_logits=False)(x, y).item()
    assert smp_value == pytest.approx((-math.log(0.8 / 1.8) - math.log(1 - 0.2 / 1.2)) / 2, rel=1e-5)


def test_focal_none_returns_one_value_per_pixel():
    x = torch.tensor([[[[2.0, 1.0]], [[0.0, -1.0]]]])  # (1, 2, 1, 2)
    y = torch.tensor([[[1, 255]]])
    value = ours.FocalLoss("multiclass", gamma=0.0, reduction="none", ignore_index=255, class_weights=[1.0, 3.0])(x, y)
    # pixel 0: class 0 BCE(2, 0) = softplus(2), class 1 BCE(0, 1) = log 2; weighted by 1 and 3
    torch.testing.assert_close(value, torch.tensor([[[(softplus(2.0) + 3 * LN2) / 4, 0.0]]]))
    total = ours.FocalLoss("multiclass", gamma=0.0, reduction="sum", ignore_index=255, class_weights=[1.0, 3.0])(x, y)
    torch.testing.assert_close(total, value.sum())


@pytest.mark.parametrize("mode", ["binary", "multiclass", "multilabel"])
def test_focal_with_every_pixel_ignored_gives_zero_and_no_gradient(mode):
    c = 1 if mode == "binary" else 3
    y = torch.full((2, 4, 4) if mode == "multiclass" else (2, c, 4, 4), 255)
    value, grad = grad_of(ours.FocalLoss(mode, ignore_index=255), torch.randn(2, c, 4, 4), y)
    assert value.item() == 0 and not grad.any()
    if mode == "multiclass":  # smp: the mean of nothing
        assert math.isnan(smp_losses.FocalLoss(mode, ignore_index=255)(torch.randn(2, c, 4, 4), y).item())


# 4. LovaszLoss


def test_lovasz_multiclass_from_probabilities_uses_them_as_they_are():
    x, y = probs([0.7, 0.3], [0.4, 0.6]), torch.tensor([[[0, 1]]])
    # class 0: errors (0.3 on it, 0.4 off it) sorted 0.4, 0.3 with Jaccard increments 0.5, 0.5: 0.35;
    # class 1: errors 0.4 (on it), 0.3 with increments 1, 0: 0.4
    assert ours.LovaszLoss("multiclass", from_logits=False)(x, y).item() == pytest.approx(0.375, rel=1e-6)
    weighted = ours.LovaszLoss("multiclass", from_logits=False, class_weights=[1.0, 3.0])(x, y)
    assert weighted.item() == pytest.approx((0.35 + 3 * 0.4) / 4, rel=1e-6)
    assert smp_losses.LovaszLoss("multiclass", from_logits=False)(x, y).item() != pytest.approx(0.375, rel=1e-3)


def test_lovasz_per_image_leaves_a_fully_ignored_image_out():
    x = torch.tensor([[[[0.5, 0.5]]], [[[0.5, 0.5]]]])
    y = torch.tensor([[[[1.0, 0.0]]], [[[255.0, 255.0]]]])
    # image 1: hinge errors 0.5 (positive), 1.5 (negative) sorted 1.5, 0.5, increments 0.5, 0.5: 1.0
    assert ours.LovaszLoss("binary", per_image=True, ignore_index=255)(x, y).item() == pytest.approx(1.0)
    assert smp_losses.LovaszLoss("binary", per_image=True, ignore_index=255)(x, y).item() == pytest.approx(0.5)


def test_lovasz_binary_from_probabilities_takes_their_logits():
    p, y = torch.tensor([[[[0.75, 0.25]]]]), torch.tensor([[[[1.0, 0.0]]]])
    logits = torch.log(p / (1 - p))
    torch.testing.assert_close(ours.LovaszLoss("binary", from_logits=False)(p, y), ours.LovaszLoss("binary")(logits, y))


# The rules on every loss: ignored pixels count nowhere, class weights weigh class terms

IGNORE = 255
CROPPABLE = [
    ("DiceLoss", "binary", {}), ("DiceLoss", "multiclass", {"log_loss": True}), ("DiceLoss", "multilabel", {"per_image": True}),
    ("JaccardLoss", "multiclass", {"class_weights": [1.0, 2.0, 1.0, 0.5]}), ("JaccardLoss", "multilabel", {}),
    ("TverskyLoss", "multiclass", {"alpha": 0.3, "beta": 0.7, "gamma": 2.0}), ("TverskyLoss", "binary", {"per_image": True}),
    ("FocalLoss", "binary", {"alpha": 0.25}), ("FocalLoss", "multiclass", {"normalized": True}),
    ("FocalLoss", "multilabel", {"class_weights": [1.0, 2.0, 1.0, 0.5]}), ("FocalLoss", "multiclass", {"reduction": "sum"}),
    ("LovaszLoss", "binary", {"per_image": True}), ("LovaszLoss", "multiclass", {}), ("LovaszLoss", "multiclass", {"per_image": True}),
    ("LovaszLoss", "multilabel", {}),
    ("SoftBCEWithLogitsLoss", "multilabel", {"smooth_factor": 0.1}), ("SoftBCEWithLogitsLoss", "binary", {"class_weights": [2.0]}),
    ("SoftCrossEntropyLoss", "multiclass", {"smooth_factor": 0.1}),
    ("SoftCrossEntropyLoss", "multiclass", {"class_weights": [1.0, 2.0, 1.0, 0.5]}),
]


def _batch(mode: str):
    g = torch.Generator().manual_seed(3)
    c = 1 if mode == "binary" else 4
    x = 2 * torch.randn(2, c, 5, 6, generator=g)
    y = torch.randint(0, c, (2, 5, 6), generator=g) if mode == "multiclass" else torch.randint(0, 2, (2, c, 5, 6), generator=g).float()
    return x, y


@pytest.mark.parametrize(("name", "mode", "option"), CROPPABLE, ids=str)
def test_ignored_pixels_count_nowhere(name, mode, option):
    """A loss with the last two columns ignored equals the loss of the image without them."""
    x, y = _batch(mode)
    mode_kwargs = {} if name.startswith("Soft") else {"mode": mode}
    loss = getattr(ours, name)(**mode_kwargs, ignore_index=IGNORE, **option)
    ignored = y.clone()
    ignored[..., 4:] = IGNORE
    value, grad = grad_of(loss, x, ignored)
    cropped_value, cropped_grad = grad_of(loss, x[..., :4].contiguous(), y[..., :4].contiguous())
    torch.testing.assert_close(value, cropped_value)
    torch.testing.assert_close(grad[..., :4], cropped_grad)
    assert not grad[..., 4:].any()


def test_focal_ignores_entries_per_channel_in_multilabel_mode():
    """smp 0.6 fails on ignore_index in multilabel mode; here an ignored entry is left out of its
    channel's mean only."""
    x = torch.tensor([[[[0.0, 2.0]], [[1.0, -1.0]]]])
    y = torch.tensor([[[[1.0, 255.0]], [[0.0, 1.0]]]])
    value = ours.FocalLoss("multilabel", gamma=0.0, ignore_index=255)(x, y)
    # channel 0: BCE(0, 1) = log 2 alone; channel 1: BCE(1, 0) = softplus(1), BCE(-1, 1) = softplus(1)
    assert value.item() == pytest.approx((LN2 + softplus(1.0)) / 2, rel=1e-6)


CLASS_TERMS = [
    ("DiceLoss", {"mode": "multiclass"}), ("DiceLoss", {"mode": "multilabel", "per_image": True}),
    ("JaccardLoss", {"mode": "multilabel"}), ("TverskyLoss", {"mode": "multiclass", "alpha": 0.2, "beta": 0.8}),
    ("FocalLoss", {"mode": "multiclass"}), ("FocalLoss", {"mode": "multilabel", "reduction": "sum"}),
    ("LovaszLoss", {"mode": "multiclass"}), ("LovaszLoss", {"mode": "multiclass", "per_image": True}),
]


@pytest.mark.parametrize(("name", "kwargs"), CLASS_TERMS, ids=str)
def test_class_weights_give_the_weighted_mean_of_the_class_terms(name, kwargs):
    x, y = _batch(kwargs["mode"])
    weights = [1.0, 2.0, 0.5, 3.0]
    alone = [getattr(ours, name)(**kwargs, class_weights=[float(i == c) for i in range(4)])(x, y) for c in range(4)]
    expected = sum(w * term for w, term in zip(weights, alone)) / sum(weights)
    torch.testing.assert_close(getattr(ours, name)(**kwargs, class_weights=weights)(x, y), expected)
    torch.testing.assert_close(getattr(ours, name)(**kwargs, class_weights=[2.0] * 4)(x, y), getattr(ours, name)(**kwargs)(x, y))


def test_soft_bce_class_weights_without_ignored_entries():
    x = torch.tensor([[[[1.0, 0.0]], [[0.0, 2.0]]]])
    y = torch.tensor([[[[1.0, 0.0]], [[0.0, 1.0]]]])
    value = ours.SoftBCEWithLogitsLoss(class_weights=[1.0, 3.0])(x, y)
    terms = 1 * (softplus(-1.0) + softplus(0.0)) + 3 * (softplus(0.0) + softplus(-2.0))
    assert value.item() == pytest.approx(terms / 8, rel=1e-6)
