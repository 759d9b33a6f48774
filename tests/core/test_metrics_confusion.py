"""Dataset-level metrics: confusion_matrix, confusion_matrix_scores and ConfusionMatrixMetric.

torchmetrics' own classification metrics are the reference on random batches; the rule for
absent classes and ignore_index is checked on tensors small enough to count by hand.
"""

from __future__ import annotations

import math
import subprocess
import sys
from collections.abc import Callable, Iterator

import pytest
import torch

from seghub.metrics import SCORE_KEYS, confusion_matrix, confusion_matrix_scores

torchmetrics = pytest.importorskip("torchmetrics")
from torchmetrics import classification as tmc  # noqa: E402

from seghub.metrics import ConfusionMatrixMetric  # noqa: E402


def batches(classes: int, *, seed: int, ignore_index: int | None = None, count: int = 3) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Logits (2, C, 8, 8) that are right about 60% of the time, and their targets."""
    g = torch.Generator().manual_seed(seed)
    for _ in range(count):
        target = torch.randint(0, classes, (2, 8, 8), generator=g)
        logits = torch.randn(2, classes, 8, 8, generator=g)
        logits += 2.0 * torch.nn.functional.one_hot(target, classes).permute(0, 3, 1, 2)
        if ignore_index is not None:
            target[torch.rand(2, 8, 8, generator=g) < 0.2] = ignore_index
        yield logits, target


def close(ours: torch.Tensor, reference: torch.Tensor) -> None:
    torch.testing.assert_close(ours, reference.to(ours.dtype), rtol=1e-6, atol=1e-6, equal_nan=True)


@pytest.mark.parametrize("as_indices", [False, True])
@pytest.mark.parametrize("ignore_index", [None, 255, -1])
def test_multiclass_agrees_with_torchmetrics(ignore_index: int | None, as_indices: bool) -> None:
    classes = 5
    ours = ConfusionMatrixMetric(num_classes=classes, ignore_index=ignore_index)
    references = {
        "iou": tmc.MulticlassJaccardIndex(classes, average=None, ignore_index=ignore_index),
        "miou": tmc.MulticlassJaccardIndex(classes, average="macro", ignore_index=ignore_index),
        "dice": tmc.MulticlassF1Score(classes, average=None, ignore_index=ignore_index),
        "mdice": tmc.MulticlassF1Score(classes, average="macro", ignore_index=ignore_index),
        "accuracy": tmc.MulticlassAccuracy(classes, average="micro", ignore_index=ignore_index),
    }
    for logits, target in batches(classes, seed=1, ignore_index=ignore_index):
        ours.update(logits.argmax(1) if as_indices else logits, target)
        for reference in references.values():
            reference.update(logits, target)
    scores = ours.compute()
    assert set(scores) == set(SCORE_KEYS)
    assert scores["iou"].shape == scores["dice"].shape == (classes,) and scores["miou"].shape == ()
    for key, reference in references.items():
        close(scores[key], reference.compute())


def test_classes_absent_everywhere_are_left_out_of_the_means_as_torchmetrics_macro_does() -> None:
    classes = 6  # class 5 is never true and never predicted
    ours = ConfusionMatrixMetric(num_classes=classes)
    iou = tmc.MulticlassJaccardIndex(classes, average="macro")
    dice = tmc.MulticlassF1Score(classes, average="macro")
    for logits, target in batches(5, seed=2):
        logits = torch.cat([logits, torch.full_like(logits[:, :1], -1e4)], 1)
        ours.update(logits, target)
        iou.update(logits, target)
        dice.update(logits, target)
    scores = ours.compute()
    assert torch.isnan(scores["iou"][5]) and torch.isnan(scores["dice"][5])
    assert not torch.isnan(scores["iou"][:5]).any()
    close(scores["miou"], iou.compute())
    close(scores["mdice"], dice.compute())


@pytest.mark.parametrize("ignore_index", [None, 255])
@pytest.mark.parametrize(("from_logits", "threshold"), [(True, 0.5), (True, 0.3), (False, 0.5)])
def test_binary_agrees_with_torchmetrics(from_logits: bool, threshold: float, ignore_index: int | None) -> None:
    ours = ConfusionMatrixMetric(mode="binary", threshold=threshold, from_logits=from_logits, ignore_index=ignore_index)
    options = {"threshold": threshold, "ignore_index": ignore_index}
    references = {
        "iou": tmc.BinaryJaccardIndex(**options),
        "dice": tmc.BinaryF1Score(**options),
        "accuracy": tmc.BinaryAccuracy(**options),
    }
    g = torch.Generator().manual_seed(3)
    for _ in range(3):
        target = torch.randint(0, 2, (2, 8, 8), generator=g)
        logits = torch.randn(2, 1, 8, 8, generator=g) * 3 + (target.unsqueeze(1) * 2 - 1)
        if ignore_index is not None:
            target[torch.rand(2, 8, 8, generator=g) < 0.2] = ignore_index
        preds = logits if from_logits else logits.sigmoid()
        ours.update(preds, target)  # (N, 1, H, W) with (N, H, W)
        for reference in references.values():
            reference.update(logits.sigmoid()[:, 0], target)  # probabilities: no guessing
    scores = ours.compute()
    assert scores["iou"].shape == scores["dice"].shape == ()  # the foreground's
    for key, reference in references.items():
        close(scores[key], reference.compute())
    assert scores["miou"] == scores["iou"] and scores["mdice"] == scores["dice"]


@pytest.mark.parametrize("ignore_index", [None, -1])
def test_multilabel_agrees_with_torchmetrics(ignore_index: int | None) -> None:
    labels = 3
    ours = ConfusionMatrixMetric(mode="multilabel", num_classes=labels, ignore_index=ignore_index)
    options = {"num_labels": labels, "ignore_index": ignore_index}
    references = {
        "iou": tmc.MultilabelJaccardIndex(average=None, **options),
        "miou": tmc.MultilabelJaccardIndex(average="macro", **options),
        "dice": tmc.MultilabelF1Score(average=None, **options),
        "accuracy": tmc.MultilabelAccuracy(average="micro", **options),
    }
    matrix = tmc.MultilabelConfusionMatrix(**options)
    g = torch.Generator().manual_seed(4)
    for _ in range(3):
        target = torch.randint(0, 2, (2, labels, 8, 8), generator=g)
        logits = torch.randn(2, labels, 8, 8, generator=g) + (target * 2 - 1)
        if ignore_index is not None:
            target[torch.rand(2, labels, 8, 8, generator=g) < 0.2] = ignore_index
        ours.update(logits, target)
        for reference in (*references.values(), matrix):
            reference.update(logits.sigmoid(), target)
    scores = ours.compute()
    for key, reference in references.items():
        close(scores[key], reference.compute())
    assert torch.equal(ours.confmat, matrix.compute())  # (C, 2, 2): [[tn, fp], [fn, tp]]


def test_multiclass_confusion_matrix_matches_torchmetrics() -> None:
    reference = tmc.MulticlassConfusionMatrix(5, ignore_index=255)
    total = torch.zeros(5, 5, dtype=torch.long)
    for logits, target in batches(5, seed=5, ignore_index=255):
        total += confusion_matrix(logits, target, num_classes=5, ignore_index=255)
        reference.update(logits, target)
    assert torch.equal(total, reference.compute())


# The documented rule, by hand


def test_absent_classes_and_ignored_pixels_by_hand() -> None:
    preds = torch.tensor([[0, 1, 1, 3]])
    target = torch.tensor([[0, 255, 1, 0]])
    # pixel 1 is ignored; class 0: tp 1, fn 1; class 1: tp 1; class 2: absent; class 3: fp 1
    expected = {
        "iou": [1 / 2, 1.0, math.nan, 0.0],
        "miou": (1 / 2 + 1.0 + 0.0) / 3,
        "dice": [2 / 3, 1.0, math.nan, 0.0],
        "mdice": (2 / 3 + 1.0 + 0.0) / 3,
        "accuracy": 2 / 3,
    }
    metric = ConfusionMatrixMetric(num_classes=4, ignore_index=255)
    metric.update(preds[:, :2], target[:, :2])  # two batches: the counts add up
    metric.update(preds[:, 2:], target[:, 2:])
    assert metric.confmat.tolist() == [[1, 0, 0, 1], [0, 1, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]
    scores = metric.compute()
    for key, value in expected.items():
        close(scores[key], torch.tensor(value))
    close(confusion_matrix_scores(confusion_matrix(preds, target, num_classes=4, ignore_index=255))["miou"], torch.tensor(0.5))

    metric.reset()
    assert not metric.confmat.any()
    metric.update(torch.tensor([[2, 2]]), torch.tensor([[2, 2]]))
    assert metric.compute()["iou"].tolist()[2] == 1.0 and metric.compute()["miou"] == 1.0  # others absent


def test_binary_by_hand_with_logits_and_ignore_index() -> None:
    logits = torch.tensor([[-2.0, 0.1, 3.0, -0.5]])
    target = torch.tensor([[0, 1, 0, 255]])
    # positive where logit >= 0 (probability >= 0.5): [0, 1, 1, 0]; pixel 3 ignored
    counts = confusion_matrix(logits, target, mode="binary", ignore_index=255)
    assert counts.tolist() == [[[1, 1], [0, 1]]]  # [[tn, fp], [fn, tp]]
    scores = confusion_matrix_scores(counts)
    close(scores["iou"], torch.tensor(1 / 2))
    close(scores["dice"], torch.tensor(2 / 3))
    close(scores["accuracy"], torch.tensor(2 / 3))
    probabilities = torch.tensor([[0.1, 0.35, 0.9, 0.2]])  # threshold 0.3: [0, 1, 1, 0] again
    again = confusion_matrix(probabilities, target, mode="binary", ignore_index=255, threshold=0.3, from_logits=False)
    assert torch.equal(again, counts)
    masks = confusion_matrix(torch.tensor([[0, 1, 1, 1]]), target, mode="binary", ignore_index=255)
    assert torch.equal(masks, counts)


@pytest.mark.parametrize("shape", [(3, 3), (3, 2, 2)])
def test_nothing_counted_gives_nan_everywhere(shape: tuple[int, ...]) -> None:
    scores = confusion_matrix_scores(torch.zeros(shape, dtype=torch.long))
    assert all(torch.isnan(value).all() for value in scores.values())


def test_forward_gives_the_batch_scores_and_accumulates() -> None:
    metric = ConfusionMatrixMetric(num_classes=3)
    first = metric(torch.tensor([[0, 1, 2]]), torch.tensor([[0, 1, 2]]))
    assert first["miou"] == 1.0
    second = metric(torch.tensor([[0, 0, 0]]), torch.tensor([[0, 1, 2]]))
    close(second["miou"], torch.tensor(1 / 3 / 3))  # class 0: 1/3, classes 1, 2: 0
    close(metric.compute()["accuracy"], torch.tensor(4 / 6))


@pytest.mark.parametrize(("mode", "num_classes", "preds", "target", "shape"), [
    ("multiclass", 4, torch.zeros(2, 4, 3, 3), torch.zeros(2, 3, 3, dtype=torch.long), (4,)),
    ("binary", None, torch.zeros(2, 3, 3), torch.zeros(2, 3, 3, dtype=torch.long), ()),
    ("multilabel", 2, torch.zeros(2, 2, 3, 3), torch.zeros(2, 2, 3, 3, dtype=torch.long), (2,)),
])
def test_compute_keys_and_shapes_per_mode(mode: str, num_classes: int | None, preds: torch.Tensor, target: torch.Tensor, shape: tuple[int, ...]) -> None:
    metric = ConfusionMatrixMetric(mode=mode, num_classes=num_classes)
    metric.update(preds, target)
    scores = metric.compute()
    assert tuple(scores) == SCORE_KEYS
    assert scores["iou"].shape == scores["dice"].shape == shape
    assert all(scores[key].shape == () for key in ("miou", "mdice", "accuracy"))
    assert all(value.dtype == torch.get_default_dtype() for value in scores.values())


BAD: list[tuple[str, Callable[[], object], str]] = [
    ("mode", lambda: ConfusionMatrixMetric(mode="semantic", num_classes=3), "mode must be one of"),
    ("num_classes", lambda: ConfusionMatrixMetric(), "num_classes is required in 'multiclass' mode"),
    ("binary classes", lambda: ConfusionMatrixMetric(mode="binary", num_classes=2), "'binary' mode has one .* class, got num_classes=2"),
    ("threshold", lambda: ConfusionMatrixMetric(mode="binary", threshold=1.5), r"threshold is a probability in \[0, 1\]"),
    ("ignore a class", lambda: ConfusionMatrixMetric(num_classes=3, ignore_index=2), "ignore_index=2 is one of the classes"),
    ("scores channels", lambda: confusion_matrix(torch.zeros(2, 4, 3, 3), torch.zeros(2, 3, 3, dtype=torch.long), num_classes=3),
     "preds has 4 class scores .* but num_classes=3"),
    ("float preds like target", lambda: confusion_matrix(torch.zeros(2, 3, 3), torch.zeros(2, 3, 3, dtype=torch.long), num_classes=3),
     "float preds shaped like target are ambiguous"),
    ("shapes", lambda: confusion_matrix(torch.zeros(2, 3, 4), torch.zeros(2, 3, 3, dtype=torch.long), num_classes=3),
     r"preds of shape \(2, 3, 4\) and target of shape \(2, 3, 3\) do not fit 'multiclass' mode"),
    ("float target", lambda: confusion_matrix(torch.zeros(2, 3, 3, 3), torch.zeros(2, 3, 3), num_classes=3),
     "target must hold class indices as an integer or bool tensor"),
    ("target range", lambda: confusion_matrix(torch.zeros(1, 3, dtype=torch.long), torch.tensor([[0, 3, 255]]), num_classes=3, ignore_index=255),
     r"target holds values \[3\] outside \[0, 3\) or ignore_index=255"),
    ("binary channels", lambda: confusion_matrix(torch.zeros(2, 3, 4, 4), torch.zeros(2, 4, 4, dtype=torch.long), mode="binary"),
     r"do not fit 'binary' mode: both must be \(N, 1, ...\) or \(N, ...\)"),
    ("multilabel channels", lambda: confusion_matrix(torch.zeros(2, 3, 4), torch.zeros(2, 3, 4, dtype=torch.long), mode="multilabel", num_classes=2),
     "3 channels .* but num_classes=2"),
    ("binary target", lambda: confusion_matrix(torch.zeros(1, 3), torch.tensor([[0, 1, 2]]), mode="binary"),
     r"target holds values \[2\] outside \{0, 1\}"),
    ("confmat", lambda: confusion_matrix_scores(torch.zeros(3, 2, dtype=torch.long)), r"confmat must be \(C, C\)"),
]


@pytest.mark.parametrize(("case", "make", "message"), BAD, ids=[case for case, _, _ in BAD])
def test_bad_input_names_the_argument_and_the_fix(case: str, make: Callable[[], object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make()


def test_update_checks_its_tensors() -> None:
    metric = ConfusionMatrixMetric(num_classes=3)
    with pytest.raises(ValueError, match=r"target holds values \[7\] outside \[0, 3\)"):
        metric.update(torch.zeros(1, 3, 2, 2), torch.tensor([[[0, 7], [1, 2]]]))
    assert not metric.confmat.any()  # nothing counted from the refused batch
    metric.update(torch.zeros(0, 3, 2, 2), torch.zeros(0, 2, 2, dtype=torch.long))  # an empty batch
    assert not metric.confmat.any()


IMPORTS = """
import sys
import seghub
assert "seghub.metrics" not in sys.modules, "import seghub imported seghub.metrics"
import seghub.metrics as m
assert "torchmetrics" not in sys.modules, "import seghub.metrics imported torchmetrics"
sys.modules["torchmetrics"] = None  # from here on, as if it were not installed
import torch
stats = m.get_stats(torch.tensor([[0, 1]]), torch.tensor([[0, 1]]), "multiclass", num_classes=2)
assert float(m.iou_score(*stats, reduction="micro")) == 1.0
counts = m.confusion_matrix(torch.tensor([[0, 1]]), torch.tensor([[0, 1]]), num_classes=2)
assert float(m.confusion_matrix_scores(counts)["miou"]) == 1.0
try:
    from seghub.metrics import ConfusionMatrixMetric
except ImportError as exc:
    print(exc)
"""


def test_functional_api_needs_no_torchmetrics_and_the_metric_says_what_to_install() -> None:
    done = subprocess.run([sys.executable, "-c", IMPORTS], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert 'ConfusionMatrixMetric needs torchmetrics: pip install "seghub-core[metrics]"' in done.stdout
