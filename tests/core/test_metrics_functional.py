"""seghub.metrics' functional API: smp 0.6's values on random inputs, and where it differs, by hand."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import pytest
import torch

import seghub.metrics as metrics

smp_metrics = pytest.importorskip("segmentation_models_pytorch.metrics")

SCORES = [name for name in smp_metrics.__all__ if name != "get_stats"]
REDUCTIONS = [None, "none", "micro", "macro", "weighted", "micro-imagewise", "macro-imagewise", "weighted-imagewise"]
# smp divides the weighted class mean by the number of classes once more in these (see README)
SMP_DIVIDES_WEIGHTED_MEAN = ("macro", "macro-imagewise", "weighted-imagewise")


def assert_same_stats(ours: tuple[torch.Tensor, ...], theirs: tuple[torch.Tensor, ...]) -> None:
    assert len(ours) == 4
    for mine, smp in zip(ours, theirs):
        assert mine.dtype == torch.int64
        assert torch.equal(mine, smp.long()), (mine, smp)


def test_every_smp_metric_name_is_exported() -> None:
    assert set(smp_metrics.__all__) <= set(metrics.__all__)
    assert metrics.precision is metrics.positive_predictive_value and metrics.recall is metrics.sensitivity


@pytest.mark.parametrize("ignore_index", [None, -1, 255])
@pytest.mark.parametrize(
    ("classes", "shape"),
    [
        (2, (3, 6, 7)),
        (5, (4, 6, 7)),
        (5, (2, 3, 4, 5)),  # volumes
        (40, (3, 6, 7)),
        (200, (2, 5, 5)),  # N (C + 1)^2 bins exceed the pixels: the three-histogram path
    ],
)
def test_get_stats_multiclass_matches_smp(classes: int, shape: tuple[int, ...], ignore_index: int | None) -> None:
    g = torch.Generator().manual_seed(classes * 7 + len(shape))
    target = torch.randint(0, classes, shape, generator=g)
    output = torch.randint(0, classes, shape, generator=g)
    if classes > 2:  # class 1 absent from both: zeros, not an error
        target[target == 1] = 0
        output[output == 1] = 2
    if ignore_index is not None:
        target[torch.rand(shape, generator=g) < 0.25] = ignore_index
    ours = metrics.get_stats(output, target, "multiclass", num_classes=classes, ignore_index=ignore_index)
    theirs = smp_metrics.get_stats(output, target, "multiclass", num_classes=classes, ignore_index=ignore_index)
    assert_same_stats(ours, theirs)
    assert ours[0].shape == (shape[0], classes)


@pytest.mark.parametrize(("mode", "channels"), [("binary", 1), ("multilabel", 3)])
@pytest.mark.parametrize(
    ("kind", "threshold"),
    [("float", 0.5), ("float", 0.3), ("long", None), ("long", 0.5), ("bool", None)],
)
def test_get_stats_binary_and_multilabel_match_smp(mode: str, channels: int, kind: str, threshold: float | None) -> None:
    g = torch.Generator().manual_seed(channels)
    # 17 x 19 = 323 pixels: one block of 255 counted bytewise and a remainder (see _counting._count)
    output = torch.rand(3, channels, 17, 19, generator=g)
    target = torch.randint(0, 2, (3, channels, 17, 19), generator=g)
    if kind != "float":
        output = output > 0.5
        output = output if kind == "bool" else output.long()
    ours = metrics.get_stats(output, target, mode, threshold=threshold)
    theirs = smp_metrics.get_stats(output, target, mode, threshold=threshold)
    assert_same_stats(ours, theirs)


def random_stats(seed: int, images: int = 4, classes: int = 3) -> tuple[torch.Tensor, ...]:
    """Small counts, many zeros: every score meets 0/0 somewhere."""
    g = torch.Generator().manual_seed(seed)
    return tuple(torch.randint(0, 3, (images, classes), generator=g) for _ in range(4))


def call(module: Any, name: str, stats: tuple[torch.Tensor, ...], **kwargs: Any) -> torch.Tensor:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return getattr(module, name)(*stats, **kwargs)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", SCORES)
def test_scores_match_smp(name: str, reduction: str | None) -> None:
    stats = random_stats(SCORES.index(name))
    for zero_division in (1.0, 0.0, 0.25, "warn"):
        for weights in (None, [0.2, 1.0, 3.0]):
            options = {"reduction": reduction, "class_weights": weights, "zero_division": zero_division}
            if reduction is not None and reduction.startswith("weighted") and weights is None:
                with pytest.raises(ValueError, match="needs class_weights"):
                    call(metrics, name, stats, **options)
                continue
            ours = call(metrics, name, stats, **options)
            theirs = call(smp_metrics, name, stats, **options)
            if weights is not None and reduction in SMP_DIVIDES_WEIGHTED_MEAN:
                theirs = theirs * len(weights)
            assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
            torch.testing.assert_close(ours, theirs, rtol=1e-6, atol=1e-6, equal_nan=True)


@pytest.mark.parametrize("beta", [0.5, 2.0])
@pytest.mark.parametrize("reduction", ["micro", "macro", "macro-imagewise", None])
def test_fbeta_beta_matches_smp(beta: float, reduction: str | None) -> None:
    stats = random_stats(11)
    ours = metrics.fbeta_score(*stats, beta=beta, reduction=reduction)
    theirs = smp_metrics.fbeta_score(*stats, beta=beta, reduction=reduction)
    torch.testing.assert_close(ours, theirs, rtol=1e-6, atol=1e-6)


def test_scores_of_get_stats_end_to_end_match_smp() -> None:
    g = torch.Generator().manual_seed(3)
    target = torch.randint(0, 4, (3, 16, 16), generator=g)
    output = torch.where(torch.rand(3, 16, 16, generator=g) < 0.7, target, torch.randint(0, 4, (3, 16, 16), generator=g))
    target[:, :2] = 255
    ours = metrics.get_stats(output, target, "multiclass", num_classes=4, ignore_index=255)
    theirs = smp_metrics.get_stats(output, target, "multiclass", num_classes=4, ignore_index=255)
    for reduction in ("micro", "macro", "micro-imagewise", "macro-imagewise"):
        torch.testing.assert_close(
            metrics.iou_score(*ours, reduction=reduction), smp_metrics.iou_score(*theirs, reduction=reduction),
            rtol=1e-6, atol=1e-6,
        )


def test_zero_division_warn_gives_zero_and_warns_only_on_zero_division() -> None:
    tp, fp, fn, tn = (torch.tensor([[2, 0]]), torch.tensor([[1, 0]]), torch.tensor([[1, 0]]), torch.tensor([[0, 4]]))
    with pytest.warns(UserWarning, match=r"iou_score: 1 value\(s\) divide 0 by 0"):
        score = metrics.iou_score(tp, fp, fn, tn, reduction="none", zero_division="warn")
    assert score.tolist() == [[0.5, 0.0]]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert float(metrics.iou_score(tp, fp, fn, tn, reduction="micro", zero_division="warn")) == 0.5
    nan = metrics.iou_score(tp, fp, fn, tn, reduction="none", zero_division=float("nan"))
    assert nan[0, 0] == 0.5 and torch.isnan(nan[0, 1])


# Differences from smp, each computed by hand


def test_class_weights_give_the_weighted_class_mean_in_every_class_average() -> None:
    # class 0: IoU 2/2 = 1, class 1: IoU 1/2 = 0.5; weights 3 and 1: (3 * 1 + 1 * 0.5) / 4
    tp, fp, fn, tn = torch.tensor([[2, 1]]), torch.tensor([[0, 1]]), torch.tensor([[0, 0]]), torch.tensor([[2, 2]])
    for reduction in ("macro", "weighted", "macro-imagewise", "weighted-imagewise"):
        assert float(metrics.iou_score(tp, fp, fn, tn, reduction=reduction, class_weights=[3, 1])) == 0.875
    assert float(metrics.iou_score(tp, fp, fn, tn, reduction="macro")) == 0.75  # unweighted
    # smp: right for "weighted", the weighted mean divided by the 2 classes for the others
    assert float(smp_metrics.iou_score(tp, fp, fn, tn, reduction="weighted", class_weights=[3, 1])) == 0.875
    for reduction in ("macro", "macro-imagewise", "weighted-imagewise"):
        assert float(smp_metrics.iou_score(tp, fp, fn, tn, reduction=reduction, class_weights=[3, 1])) == 0.4375


def test_micro_reduction_applies_zero_division() -> None:
    # nothing predicted and nothing true anywhere: IoU is 0/0
    tp = fp = fn = torch.zeros(2, 3, dtype=torch.long)
    tn = torch.full((2, 3), 5)
    assert float(metrics.iou_score(tp, fp, fn, tn, reduction="micro")) == 1.0
    assert float(metrics.iou_score(tp, fp, fn, tn, reduction="micro", zero_division=0.0)) == 0.0
    assert torch.isnan(smp_metrics.iou_score(tp, fp, fn, tn, reduction="micro"))  # smp: NaN


@pytest.mark.parametrize("mode", ["binary", "multilabel"])
def test_ignore_index_in_binary_and_multilabel_mode(mode: str) -> None:
    output = torch.tensor([[[1, 1, 0, 0, 1]]])
    target = torch.tensor([[[1, 255, 0, 1, 255]]])
    # counted: pixel 0 (tp), 2 (tn), 3 (fn); the two ignored pixels count nowhere
    stats = metrics.get_stats(output, target, mode, ignore_index=255)
    assert [s.tolist() for s in stats] == [[[1]], [[0]], [[1]], [[1]]]
    with pytest.raises(ValueError, match="not supported"):
        smp_metrics.get_stats(output, target, mode, ignore_index=255)


def test_per_channel_thresholds() -> None:
    output = torch.tensor([[[0.2, 0.5], [0.6, 0.8]]])  # (1, 2, 2): channel 0, channel 1
    target = torch.tensor([[[0, 1], [1, 1]]])
    tp, fp, fn, tn = metrics.get_stats(output, target, "multilabel", threshold=[0.3, 0.7])
    # channel 0 >= 0.3: [0, 1] -> tp 1, tn 1; channel 1 >= 0.7: [0, 1] -> tp 1, fn 1
    assert (tp.tolist(), fp.tolist(), fn.tolist(), tn.tolist()) == ([[1, 1]], [[0, 0]], [[0, 1]], [[1, 0]])
    with pytest.raises(TypeError):
        smp_metrics.get_stats(output, target, "multilabel", threshold=[0.3, 0.7])


def test_threshold_binarises_the_output_only() -> None:
    logits = torch.tensor([[[-1.0, 0.5, 2.0, -3.0]]])
    target = torch.tensor([[[0, 1, 1, 0]]])
    stats = metrics.get_stats(logits, target, "binary", threshold=0.0)
    assert [s.item() for s in stats] == [2, 0, 0, 2]
    # smp also thresholds the target: every label is >= 0, so it counts all four as positive
    assert [s.item() for s in smp_metrics.get_stats(logits, target, "binary", threshold=0.0)] == [2, 0, 2, 0]


def test_labels_outside_the_classes_raise_where_smp_counts_them_as_true_negatives() -> None:
    output, target = torch.tensor([[0, 1, 2]]), torch.tensor([[0, 5, 2]])
    with pytest.raises(ValueError, match=r"target holds values \[5\] outside \[0, 3\)"):
        metrics.get_stats(output, target, "multiclass", num_classes=3)
    assert smp_metrics.get_stats(output, target, "multiclass", num_classes=3)[3].tolist() == [[2, 2, 2]]


def test_non_contiguous_and_empty_inputs() -> None:
    g = torch.Generator().manual_seed(5)
    output = torch.rand(2, 300, 3, generator=g).permute(0, 2, 1)  # (2, 3, 300), strided
    target = torch.randint(0, 2, (2, 300, 3), generator=g).permute(0, 2, 1)
    ours = metrics.get_stats(output, target, "multilabel", threshold=0.5)
    assert_same_stats(ours, smp_metrics.get_stats(output.contiguous(), target.contiguous(), "multilabel", threshold=0.5))
    empty = metrics.get_stats(torch.zeros(0, 4, 4, dtype=torch.long), torch.zeros(0, 4, 4, dtype=torch.long), "multiclass", num_classes=3)
    assert all(s.shape == (0, 3) for s in empty)


def test_predictions_where_the_target_is_ignored_may_be_anything() -> None:
    output, target = torch.tensor([[0, 255, 2]]), torch.tensor([[0, 255, 1]])
    tp, fp, fn, tn = metrics.get_stats(output, target, "multiclass", num_classes=3, ignore_index=255)
    assert (tp.tolist(), fp.tolist(), fn.tolist(), tn.tolist()) == ([[1, 0, 0]], [[0, 0, 1]], [[0, 1, 0]], [[1, 1, 1]])


BAD_STATS: list[tuple[str, Callable[[], object], str]] = [
    ("mode", lambda: metrics.get_stats(torch.zeros(1, 2), torch.zeros(1, 2, dtype=torch.long), "multi-class"),
     "mode must be one of 'binary', 'multiclass', 'multilabel', got 'multi-class'"),
    ("float target", lambda: metrics.get_stats(torch.zeros(1, 2, dtype=torch.long), torch.zeros(1, 2), "multiclass", num_classes=2),
     r"target must hold class indices as an integer or bool tensor, got torch.float32; convert it with target.long\(\)"),
    ("logits in multiclass", lambda: metrics.get_stats(torch.zeros(2, 3, 4, 4, dtype=torch.long), torch.zeros(2, 4, 4, dtype=torch.long), "multiclass", num_classes=3),
     r"output of shape \(2, 3, 4, 4\) does not match target of shape \(2, 4, 4\) in 'multiclass' mode: it looks like class scores .* pass output.argmax\(1\)"),
    ("float output multiclass", lambda: metrics.get_stats(torch.zeros(2, 4), torch.zeros(2, 4, dtype=torch.long), "multiclass", num_classes=3),
     r"output holds torch.float32 values, but 'multiclass' mode takes class indices: pass output.argmax\(1\)"),
    ("num_classes", lambda: metrics.get_stats(torch.zeros(2, 4, dtype=torch.long), torch.zeros(2, 4, dtype=torch.long), "multiclass"),
     "num_classes is required in 'multiclass' mode"),
    ("threshold multiclass", lambda: metrics.get_stats(torch.zeros(2, 4, dtype=torch.long), torch.zeros(2, 4, dtype=torch.long), "multiclass", num_classes=2, threshold=0.5),
     "leave threshold=None"),
    ("target range", lambda: metrics.get_stats(torch.zeros(1, 3, dtype=torch.long), torch.tensor([[0, 7, -2]]), "multiclass", num_classes=5),
     r"target holds values \[-2, 7\] outside \[0, 5\): set num_classes"),
    ("target range with ignore", lambda: metrics.get_stats(torch.zeros(1, 3, dtype=torch.long), torch.tensor([[0, 5, 255]]), "multiclass", num_classes=5, ignore_index=255),
     r"target holds values \[5\] outside \[0, 5\) or ignore_index=255"),
    ("output range", lambda: metrics.get_stats(torch.tensor([[0, 5]]), torch.tensor([[0, 1]]), "multiclass", num_classes=5),
     r"output holds values \[5\] outside \[0, 5\)"),
    ("ignore_index a class", lambda: metrics.get_stats(torch.tensor([[0, 1]]), torch.tensor([[0, 1]]), "multiclass", num_classes=5, ignore_index=0),
     "ignore_index=0 is one of the classes 0..4; it must lie outside them"),
    ("binary float without threshold", lambda: metrics.get_stats(torch.rand(2, 1, 4), torch.zeros(2, 1, 4, dtype=torch.long), "binary"),
     r"output holds torch.float32 values: pass threshold="),
    ("binary without channel", lambda: metrics.get_stats(torch.rand(2, 4, 4), torch.zeros(2, 4, 4, dtype=torch.long), "binary", threshold=0.5),
     r"'binary' mode takes one channel, \(N, 1, ...\), got shape \(2, 4, 4\): add the channel with .unsqueeze\(1\)"),
    ("multilabel shapes", lambda: metrics.get_stats(torch.rand(2, 3, 4), torch.zeros(2, 2, 4, dtype=torch.long), "multilabel", threshold=0.5),
     r"output of shape \(2, 3, 4\) does not match target of shape \(2, 2, 4\) in 'multilabel' mode"),
    ("binary target labels", lambda: metrics.get_stats(torch.rand(1, 1, 3), torch.tensor([[[0, 2, 1]]]), "binary", threshold=0.5),
     r"target holds values \[2\] outside \{0, 1\}: binarise the target"),
    ("binary output labels", lambda: metrics.get_stats(torch.tensor([[[0, 3, 1]]]), torch.tensor([[[0, 1, 1]]]), "binary"),
     r"output holds values \[3\] outside \{0, 1\}"),
    ("threshold per channel", lambda: metrics.get_stats(torch.rand(1, 3, 4), torch.zeros(1, 3, 4, dtype=torch.long), "multilabel", threshold=[0.5, 0.5]),
     r"threshold has 2 values but output has 3 channels"),
]


@pytest.mark.parametrize(("case", "make", "message"), BAD_STATS, ids=[case for case, _, _ in BAD_STATS])
def test_bad_get_stats_input_names_the_argument_and_the_fix(case: str, make: Callable[[], object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make()


STATS = tuple(torch.ones(2, 3, dtype=torch.long) for _ in range(4))
BAD_SCORES: list[tuple[str, dict[str, Any], str]] = [
    ("reduction", {"reduction": "mean"}, "reduction must be one of 'micro', 'macro', .* got 'mean'"),
    ("weights missing", {"reduction": "weighted"}, r"reduction='weighted' needs class_weights, one weight per class \(C=3\)"),
    ("weights length", {"reduction": "macro", "class_weights": [1.0, 2.0]}, r"class_weights must hold one weight per class \(3\), got shape \(2,\)"),
    ("weights negative", {"reduction": "weighted", "class_weights": [1.0, -2.0, 1.0]}, "class_weights must be finite, non-negative"),
    ("zero_division", {"zero_division": "nan"}, "zero_division must be a number .* or 'warn', got 'nan'"),
]


@pytest.mark.parametrize(("case", "options", "message"), BAD_SCORES, ids=[case for case, _, _ in BAD_SCORES])
def test_bad_score_options_name_the_argument(case: str, options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        metrics.iou_score(*STATS, **options)


def test_options_may_be_positional_as_in_smp() -> None:
    assert float(metrics.iou_score(*STATS, "micro")) == float(metrics.iou_score(*STATS, reduction="micro"))
    assert float(metrics.iou_score(*STATS, reduction="micro")) == pytest.approx(1 / 3)


def test_counts_must_have_one_shape() -> None:
    with pytest.raises(ValueError, match="tp, fp, fn and tn must have one shape"):
        metrics.f1_score(torch.ones(2, 3), torch.ones(2, 3), torch.ones(2, 2), torch.ones(2, 3), reduction="micro")
    with pytest.raises(ValueError, match=r"reduction='macro' takes \(N, C\) counts"):
        metrics.f1_score(*(torch.ones(3) for _ in range(4)), reduction="macro")


def test_signatures_are_smps_positional_order_included():
    """A drop-in: calls written for smp, positional arguments included, work unchanged."""
    import inspect

    import segmentation_models_pytorch.metrics as smp_metrics

    import seghub.metrics as ours

    for name in ("get_stats", "iou_score", "f1_score", "fbeta_score", "accuracy", "recall", "balanced_accuracy"):
        theirs = inspect.signature(getattr(smp_metrics, name)).parameters
        mine = inspect.signature(getattr(ours, name)).parameters
        assert list(mine) == list(theirs), name
        assert all(p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD for p in mine.values()), name
    output = torch.tensor([[[[0, 1], [2, 2]]]])
    target = torch.tensor([[[[0, 1], [1, 2]]]])
    stats = ours.get_stats(output[:, 0], target[:, 0], "multiclass", None, None, 3)
    expected = smp_metrics.get_stats(output[:, 0], target[:, 0], "multiclass", None, None, 3)
    assert all(torch.equal(a, b) for a, b in zip(stats, expected))
    assert torch.allclose(ours.iou_score(*stats, "macro"), smp_metrics.iou_score(*expected, "macro"))
