"""seghub.losses against smp 0.6 (a test-only reference): value and gradient w.r.t. the logits
within 1e-5, for every loss, mode and option, on small random batches in which every class is
present. The cases where smp is wrong are left out here and tested by hand in
test_losses_differences.py."""

from __future__ import annotations

import pytest
import torch

import seghub.losses as ours

smp_losses = pytest.importorskip("segmentation_models_pytorch.losses")


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny tensors: one thread is fastest, and the machine is shared."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)

MODES = ("binary", "multiclass", "multilabel")
CLASSES = 4
IGNORE = 255


def batch(mode: str, ignore: int | None = None, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits (2, C, 6, 6) and a target in which every class (channel) of every image is present,
    with about 20% of its entries set to ``ignore`` when given."""
    g = torch.Generator().manual_seed(seed)
    n, c, h, w = 2, 1 if mode == "binary" else CLASSES, 6, 6
    logits = 2 * torch.randn(n, c, h, w, generator=g)
    if mode == "multiclass":
        target = torch.stack([(torch.arange(h * w) % c)[torch.randperm(h * w, generator=g)] for _ in range(n)])
        target = target.view(n, h, w)
    else:
        target = (torch.arange(n * c * h * w) % 2)[torch.randperm(n * c * h * w, generator=g)].view(n, c, h, w).float()
    if ignore is not None:
        target = target.masked_fill(torch.rand(target.shape, generator=g) < 0.2, ignore)
    return logits, target


def probabilities(mode: str):
    return (lambda x: x.softmax(1)) if mode == "multiclass" else torch.sigmoid


def value_and_grad(loss, logits, target, transform=None):
    x = logits.clone().requires_grad_(True)
    value = loss(transform(x) if transform else x, target)
    (grad,) = torch.autograd.grad(value.sum(), x)
    return value.detach(), grad


def assert_parity(name, kwargs, logits, target, transform=None, smp_kwargs=None):
    mine = getattr(ours, name)(**kwargs)
    theirs = getattr(smp_losses, name)(**(kwargs if smp_kwargs is None else smp_kwargs))
    value, grad = value_and_grad(mine, logits, target, transform)
    ref_value, ref_grad = value_and_grad(theirs, logits, target, transform)
    assert value.shape == ref_value.shape
    torch.testing.assert_close(value, ref_value, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(grad, ref_grad, atol=1e-5, rtol=1e-5)
    assert grad.abs().sum() > 0  # the comparison compared something


# eps clamps the score before the log: these clamp some classes of batch(mode) and not others
LOG_EPS = {
    **{(name, "binary"): 0.3 for name in ("DiceLoss", "JaccardLoss", "TverskyLoss")},
    ("DiceLoss", "multiclass"): 0.24, ("TverskyLoss", "multiclass"): 0.24, ("JaccardLoss", "multiclass"): 0.135,
    ("DiceLoss", "multilabel"): 0.51, ("TverskyLoss", "multilabel"): 0.51, ("JaccardLoss", "multilabel"): 0.34,
}


def _overlap_cases():
    for name in ("DiceLoss", "JaccardLoss", "TverskyLoss"):
        for mode in MODES:
            options = [{}, {"log_loss": True}, {"smooth": 1.0}, {"log_loss": True, "eps": LOG_EPS[name, mode]},
                       {"from_logits": False}, {"ignore_index": IGNORE}, {"ignore_index": -1}]
            if mode != "binary":
                options += [{"classes": [0, 2]}, {"class_weights": [1.0, 2.0, 0.5, 3.0]},
                            {"classes": [1, 3], "class_weights": [1.0, 2.0, 0.5, 3.0]}]
            if name == "TverskyLoss":
                options += [{"alpha": 0.3, "beta": 0.7}, {"alpha": 0.7, "beta": 0.3, "gamma": 2.0}, {"gamma": 0.75}]
            for option in options:
                yield pytest.param(name, mode, option, id=f"{name}-{mode}-{option}")


@pytest.mark.parametrize(("name", "mode", "option"), list(_overlap_cases()))
def test_overlap_losses_match_smp(name, mode, option):
    logits, target = batch(mode, ignore=option.get("ignore_index"))
    transform = None if option.get("from_logits", True) else probabilities(mode)
    assert_parity(name, {"mode": mode, **option}, logits, target, transform)


@pytest.mark.parametrize("name", ["DiceLoss", "FocalLoss"])
def test_binary_target_without_channel_matches_smp(name):
    logits, target = batch("binary")
    assert_parity(name, {"mode": "binary"}, logits, target[:, 0])


def _focal_cases():
    for mode in MODES:
        options = [{}, {"alpha": 0.25}, {"gamma": 0.0}, {"gamma": 0.5}, {"gamma": 3.0, "alpha": 0.8},
                   {"reduction": "sum"}, {"normalized": True}, {"reduced_threshold": 0.5},
                   {"reduced_threshold": 0.5, "reduction": "sum", "gamma": 1.5}]
        if mode != "multiclass":  # smp's multiclass from_logits=False is wrong (test_losses_differences)
            options += [{"from_logits": False}, {"from_logits": False, "eps": 1e-3}]
        if mode != "multilabel":  # smp 0.6 fails on ignore_index in multilabel mode
            options += [{"ignore_index": IGNORE}, {"ignore_index": IGNORE, "normalized": True, "alpha": 0.3}]
        if mode != "binary":
            options += [{"class_weights": [1.0, 2.0, 0.5, 3.0]}, {"class_weights": [1.0, 0.0, 2.0, 1.0], "reduction": "sum"}]
        if mode == "multiclass":
            options += [{"class_weights": [1.0, 2.0, 0.5, 3.0], "ignore_index": IGNORE}]
        for option in options:
            yield pytest.param(mode, option, id=f"{mode}-{option}")


@pytest.mark.parametrize(("mode", "option"), list(_focal_cases()))
def test_focal_loss_matches_smp(mode, option):
    logits, target = batch(mode, ignore=option.get("ignore_index"))
    transform = None if option.get("from_logits", True) else probabilities(mode)
    assert_parity("FocalLoss", {"mode": mode, **option}, logits, target, transform)


def test_focal_loss_matches_smp_on_soft_multilabel_targets():
    logits, _ = batch("multilabel")
    target = torch.rand(logits.shape, generator=torch.Generator().manual_seed(1))
    assert_parity("FocalLoss", {"mode": "multilabel", "alpha": 0.4}, logits, target)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("per_image", [False, True])
@pytest.mark.parametrize("ignore_index", [None, IGNORE])
def test_lovasz_loss_matches_smp(mode, per_image, ignore_index):
    logits, target = batch(mode, ignore=ignore_index)
    assert_parity("LovaszLoss", {"mode": mode, "per_image": per_image, "ignore_index": ignore_index}, logits, target)


@pytest.mark.parametrize(
    ("option", "ignored"),
    [
        ({}, False),
        ({"smooth_factor": 0.1}, False),
        ({"pos_weight": torch.tensor([2.0, 0.5, 1.0, 3.0]).view(4, 1, 1)}, False),
        ({"weight": torch.tensor([1.0, 2.0, 0.5, 1.5]).view(4, 1, 1), "smooth_factor": 0.2}, False),
        ({"reduction": "sum"}, False),
        ({"reduction": "none"}, False),
        ({"ignore_index": None}, False),
        ({"ignore_index": IGNORE, "reduction": "sum"}, True),
        ({"ignore_index": IGNORE, "reduction": "none", "smooth_factor": 0.1}, True),
    ],
    ids=str,
)
def test_soft_bce_matches_smp(option, ignored):
    logits, target = batch("multilabel", ignore=IGNORE if ignored else None)
    assert_parity("SoftBCEWithLogitsLoss", option, logits, target)


@pytest.mark.parametrize(
    ("option", "ignored"),
    [
        ({"smooth_factor": 0.1}, False),
        ({"smooth_factor": 0.0}, False),
        ({"smooth_factor": 0.2, "reduction": "sum"}, False),
        ({"smooth_factor": 0.1, "ignore_index": IGNORE, "reduction": "sum"}, True),
        ({"smooth_factor": 0.1, "ignore_index": None, "reduction": "none"}, False),
    ],
    ids=str,
)
def test_soft_cross_entropy_matches_smp(option, ignored):
    logits, target = batch("multiclass", ignore=IGNORE if ignored else None)
    assert_parity("SoftCrossEntropyLoss", option, logits, target)


def test_soft_cross_entropy_with_classes_last_matches_smp():
    logits, target = batch("multiclass")
    assert_parity("SoftCrossEntropyLoss", {"smooth_factor": 0.1, "dim": 3}, logits.permute(0, 2, 3, 1), target)


@pytest.mark.parametrize("option", [{}, {"eps": 1.0}], ids=str)
def test_mcc_loss_matches_smp(option):
    logits, target = batch("binary")
    assert_parity("MCCLoss", option, logits, target, transform=torch.sigmoid)


def test_the_mode_constants_are_smps():
    assert (ours.BINARY_MODE, ours.MULTICLASS_MODE, ours.MULTILABEL_MODE) == (
        smp_losses.BINARY_MODE, smp_losses.MULTICLASS_MODE, smp_losses.MULTILABEL_MODE,
    )


@pytest.mark.parametrize(
    "name",
    ["DiceLoss", "JaccardLoss", "TverskyLoss", "FocalLoss", "LovaszLoss", "SoftBCEWithLogitsLoss",
     "SoftCrossEntropyLoss", "MCCLoss"],
)
def test_smps_arguments_and_defaults_are_accepted(name):
    """Every smp argument exists with smp's default, in smp's order (positional calls work)."""
    import inspect

    theirs = inspect.signature(getattr(smp_losses, name).__init__).parameters
    mine = inspect.signature(getattr(ours, name).__init__).parameters
    positional = [p for p in mine.values() if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD]
    assert [p.name for p in positional] == list(theirs)
    for parameter in theirs.values():
        if parameter.name != "self" and parameter.default is not inspect.Parameter.empty:
            assert mine[parameter.name].default == parameter.default, parameter.name


@pytest.mark.parametrize(
    ("name", "mode", "option"),
    [("FocalLoss", "binary", {"mode": "binary", "ignore_index": IGNORE}),
     ("FocalLoss", "multiclass", {"mode": "multiclass", "ignore_index": IGNORE}),
     ("FocalLoss", "multilabel", {"mode": "multilabel"}),
     ("SoftCrossEntropyLoss", "multiclass", {"smooth_factor": 0.1, "ignore_index": IGNORE, "reduction": "sum"})],
    ids=str,
)
def test_fused_losses_in_many_pieces_match_smp(name, mode, option, monkeypatch):
    """Focal and cross-entropy work on cache-sized pieces; pieces smaller than a row change nothing."""
    import seghub.losses._fused

    monkeypatch.setattr(seghub.losses._fused, "CHUNK", 20)
    logits, target = batch(mode, ignore=option.get("ignore_index"))
    assert_parity(name, option, logits, target)


@pytest.mark.parametrize("per_image", [False, True])
def test_lovasz_with_an_absent_class_matches_smp(per_image):
    """smp leaves classes without target pixels out of Lovasz-Softmax, as seghub does."""
    logits, target = batch("multiclass")
    target = target.masked_fill(target == 3, 1)
    assert_parity("LovaszLoss", {"mode": "multiclass", "per_image": per_image}, logits, target)


@pytest.mark.parametrize("mode", ["binary", "multiclass"])
def test_lovasz_on_rows_long_enough_for_a_radix_sort_matches_smp(mode):
    """Rows past 32768 pixels are sorted by PyTorch's radix sort on the CPU."""
    g = torch.Generator().manual_seed(0)
    c = 1 if mode == "binary" else 3
    logits = torch.randn(1, c, 200, 200, generator=g)
    target = torch.randint(0, c, (1, 200, 200), generator=g) if mode == "multiclass" else (
        torch.randint(0, 2, (1, 1, 200, 200), generator=g).float())
    assert_parity("LovaszLoss", {"mode": mode}, logits, target)


@pytest.mark.parametrize("hinge", [False, True])
def test_lovasz_increments_are_the_same_sorted_in_one_batch(hinge):
    """Off the CPU all rows go through one batched sort; it gives the per-row sorts' result."""
    from seghub.losses.lovasz import _increments

    g = torch.Generator().manual_seed(0)
    errors = torch.rand(5, 300, generator=g)
    fg = torch.rand(5, 300, generator=g) > 0.6
    fg = fg.float() if hinge else fg
    torch.testing.assert_close(_increments(errors, fg, batched=True), _increments(errors, fg, batched=False))
