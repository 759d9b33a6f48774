"""The score functions of smp 0.6's ``metrics``: each one a formula of ``(tp, fp, fn, tn)``.

Every public function takes the four ``(N, C)`` tensors from :func:`get_stats` and
``reduction``, ``class_weights`` and ``zero_division`` (documented in :data:`REDUCTION_DOC`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import TypeVar

from torch import Tensor

from ._reduction import Formula, reduce_score

__all__ = [
    "fbeta_score",
    "f1_score",
    "iou_score",
    "accuracy",
    "precision",
    "recall",
    "sensitivity",
    "specificity",
    "balanced_accuracy",
    "positive_predictive_value",
    "negative_predictive_value",
    "false_negative_rate",
    "false_positive_rate",
    "false_discovery_rate",
    "false_omission_rate",
    "positive_likelihood_ratio",
    "negative_likelihood_ratio",
]

Weights = Sequence[float] | Tensor | None

REDUCTION_DOC = """

    Args:
        tp, fp, fn, tn: true/false positive/negative counts, ``(N, C)``, from :func:`get_stats`.
        reduction: how counts are pooled and scores averaged:

            - ``'micro'``: sum the counts over images and classes, then score;
            - ``'macro'``: sum over images, score each class, average the classes;
            - ``'weighted'``: as ``'macro'``, averaging the classes with ``class_weights``;
            - ``'micro-imagewise'``: sum over classes, score each image, average the images;
            - ``'macro-imagewise'``: score each image and class, average over images, then
              over classes;
            - ``'weighted-imagewise'``: as ``'macro-imagewise'`` with ``class_weights``;
            - ``None`` or ``'none'``: the ``(N, C)`` scores.

        class_weights: one weight per class for the averages over classes: required by the
            ``'weighted'`` reductions; the ``'macro'`` ones average with them when given. The
            average is ``sum(w * score) / sum(w)``. Unused by micro, micro-imagewise and none.
        zero_division: the score where a formula divides 0 by 0 (a class absent from target
            and prediction), before any averaging; ``'warn'`` gives 0 and warns.

    Returns:
        A scalar tensor, or ``(N, C)`` scores without reduction.
    """

F = TypeVar("F", bound=Callable[..., Tensor])


def _documented(function: F) -> F:
    function.__doc__ = (function.__doc__ or "") + REDUCTION_DOC
    return function


# the formulas: 0/0 gives NaN, which reduce_score replaces by zero_division


def _fbeta(tp: Tensor, fp: Tensor, fn: Tensor, tn: Tensor, *, beta: float) -> Tensor:
    weighted_tp = (1 + beta**2) * tp
    return weighted_tp / (weighted_tp + beta**2 * fn + fp)


def _iou(tp: Tensor, fp: Tensor, fn: Tensor, tn: Tensor) -> Tensor:
    return tp / (tp + fp + fn)


def _accuracy(tp: Tensor, fp: Tensor, fn: Tensor, tn: Tensor) -> Tensor:
    return (tp + tn) / (tp + fp + fn + tn)


def _tpr(tp: Tensor, fp: Tensor, fn: Tensor, tn: Tensor) -> Tensor:
    return tp / (tp + fn)


def _tnr(tp: Tensor, fp: Tensor, fn: Tensor, tn: Tensor) -> Tensor:
    return tn / (tn + fp)


def _ppv(tp: Tensor, fp: Tensor, fn: Tensor, tn: Tensor) -> Tensor:
    return tp / (tp + fp)


def _npv(tp: Tensor, fp: Tensor, fn: Tensor, tn: Tensor) -> Tensor:
    return tn / (tn + fn)


def _balanced_accuracy(tp: Tensor, fp: Tensor, fn: Tensor, tn: Tensor) -> Tensor:
    return (_tpr(tp, fp, fn, tn) + _tnr(tp, fp, fn, tn)) / 2


def _complement(formula: Formula) -> Formula:
    return lambda tp, fp, fn, tn: 1 - formula(tp, fp, fn, tn)


_fnr, _fpr, _fdr, _for = _complement(_tpr), _complement(_tnr), _complement(_ppv), _complement(_npv)


def _lr_plus(tp: Tensor, fp: Tensor, fn: Tensor, tn: Tensor) -> Tensor:
    return _tpr(tp, fp, fn, tn) / _fpr(tp, fp, fn, tn)


def _lr_minus(tp: Tensor, fp: Tensor, fn: Tensor, tn: Tensor) -> Tensor:
    return _fnr(tp, fp, fn, tn) / _tnr(tp, fp, fn, tn)


@_documented
def fbeta_score(
    tp: Tensor, fp: Tensor, fn: Tensor, tn: Tensor, beta: float = 1.0,
    reduction: str | None = None, class_weights: Weights = None, zero_division: float | str = 1.0,
) -> Tensor:
    """F-beta score: ``(1 + b²) tp / ((1 + b²) tp + b² fn + fp)``, recall weighted ``beta`` times."""
    return reduce_score(partial(_fbeta, beta=beta), tp, fp, fn, tn, reduction=reduction,
                        class_weights=class_weights, zero_division=zero_division, name="fbeta_score")


@_documented
def f1_score(
    tp: Tensor, fp: Tensor, fn: Tensor, tn: Tensor,
    reduction: str | None = None, class_weights: Weights = None, zero_division: float | str = 1.0,
) -> Tensor:
    """F1 score (Dice coefficient): ``2 tp / (2 tp + fn + fp)``."""
    return reduce_score(partial(_fbeta, beta=1.0), tp, fp, fn, tn, reduction=reduction,
                        class_weights=class_weights, zero_division=zero_division, name="f1_score")


@_documented
def iou_score(
    tp: Tensor, fp: Tensor, fn: Tensor, tn: Tensor,
    reduction: str | None = None, class_weights: Weights = None, zero_division: float | str = 1.0,
) -> Tensor:
    """Intersection over union (Jaccard index): ``tp / (tp + fp + fn)``."""
    return reduce_score(_iou, tp, fp, fn, tn, reduction=reduction,
                        class_weights=class_weights, zero_division=zero_division, name="iou_score")


@_documented
def accuracy(
    tp: Tensor, fp: Tensor, fn: Tensor, tn: Tensor,
    reduction: str | None = None, class_weights: Weights = None, zero_division: float | str = 1.0,
) -> Tensor:
    """Accuracy: ``(tp + tn) / (tp + fp + fn + tn)``."""
    return reduce_score(_accuracy, tp, fp, fn, tn, reduction=reduction,
                        class_weights=class_weights, zero_division=zero_division, name="accuracy")


@_documented
def sensitivity(
    tp: Tensor, fp: Tensor, fn: Tensor, tn: Tensor,
    reduction: str | None = None, class_weights: Weights = None, zero_division: float | str = 1.0,
) -> Tensor:
    """Sensitivity, recall or true positive rate: ``tp / (tp + fn)``; also named ``recall``."""
    return reduce_score(_tpr, tp, fp, fn, tn, reduction=reduction,
                        class_weights=class_weights, zero_division=zero_division, name="sensitivity")


@_documented
def specificity(
    tp: Tensor, fp: Tensor, fn: Tensor, tn: Tensor,
    reduction: str | None = None, class_weights: Weights = None, zero_division: float | str = 1.0,
) -> Tensor:
    """Specificity or true negative rate: ``tn / (tn + fp)``."""
    return reduce_score(_tnr, tp, fp, fn, tn, reduction=reduction,
                        class_weights=class_weights, zero_division=zero_division, name="specificity")


@_documented
def balanced_accuracy(
    tp: Tensor, fp: Tensor, fn: Tensor, tn: Tensor,
    reduction: str | None = None, class_weights: Weights = None, zero_division: float | str = 1.0,
) -> Tensor:
    """Balanced accuracy: the mean of sensitivity and specificity (undefined if either is)."""
    return reduce_score(_balanced_accuracy, tp, fp, fn, tn, reduction=reduction,
                        class_weights=class_weights, zero_division=zero_division, name="balanced_accuracy")


@_documented
def positive_predictive_value(
    tp: Tensor, fp: Tensor, fn: Tensor, tn: Tensor,
    reduction: str | None = None, class_weights: Weights = None, zero_division: float | str = 1.0,
) -> Tensor:
    """Precision or positive predictive value: ``tp / (tp + fp)``; also named ``precision``."""
    return reduce_score(_ppv, tp, fp, fn, tn, reduction=reduction,
                        class_weights=class_weights, zero_division=zero_division, name="positive_predictive_value")


@_documented
def negative_predictive_value(
    tp: Tensor, fp: Tensor, fn: Tensor, tn: Tensor,
    reduction: str | None = None, class_weights: Weights = None, zero_division: float | str = 1.0,
) -> Tensor:
    """Negative predictive value: ``tn / (tn + fn)``."""
    return reduce_score(_npv, tp, fp, fn, tn, reduction=reduction,
                        class_weights=class_weights, zero_division=zero_division, name="negative_predictive_value")


@_documented
def false_negative_rate(
    tp: Tensor, fp: Tensor, fn: Tensor, tn: Tensor,
    reduction: str | None = None, class_weights: Weights = None, zero_division: float | str = 1.0,
) -> Tensor:
    """Miss rate or false negative rate: ``1 - sensitivity``."""
    return reduce_score(_fnr, tp, fp, fn, tn, reduction=reduction,
                        class_weights=class_weights, zero_division=zero_division, name="false_negative_rate")


@_documented
def false_positive_rate(
    tp: Tensor, fp: Tensor, fn: Tensor, tn: Tensor,
    reduction: str | None = None, class_weights: Weights = None, zero_division: float | str = 1.0,
) -> Tensor:
    """Fall-out or false positive rate: ``1 - specificity``."""
    return reduce_score(_fpr, tp, fp, fn, tn, reduction=reduction,
                        class_weights=class_weights, zero_division=zero_division, name="false_positive_rate")


@_documented
def false_discovery_rate(
    tp: Tensor, fp: Tensor, fn: Tensor, tn: Tensor,
    reduction: str | None = None, class_weights: Weights = None, zero_division: float | str = 1.0,
) -> Tensor:
    """False discovery rate: ``1 - precision``."""
    return reduce_score(_fdr, tp, fp, fn, tn, reduction=reduction,
                        class_weights=class_weights, zero_division=zero_division, name="false_discovery_rate")


@_documented
def false_omission_rate(
    tp: Tensor, fp: Tensor, fn: Tensor, tn: Tensor,
    reduction: str | None = None, class_weights: Weights = None, zero_division: float | str = 1.0,
) -> Tensor:
    """False omission rate: ``1 - negative predictive value``."""
    return reduce_score(_for, tp, fp, fn, tn, reduction=reduction,
                        class_weights=class_weights, zero_division=zero_division, name="false_omission_rate")


@_documented
def positive_likelihood_ratio(
    tp: Tensor, fp: Tensor, fn: Tensor, tn: Tensor,
    reduction: str | None = None, class_weights: Weights = None, zero_division: float | str = 1.0,
) -> Tensor:
    """Positive likelihood ratio: ``sensitivity / false_positive_rate`` (``inf`` when no false positive)."""
    return reduce_score(_lr_plus, tp, fp, fn, tn, reduction=reduction,
                        class_weights=class_weights, zero_division=zero_division, name="positive_likelihood_ratio")


@_documented
def negative_likelihood_ratio(
    tp: Tensor, fp: Tensor, fn: Tensor, tn: Tensor,
    reduction: str | None = None, class_weights: Weights = None, zero_division: float | str = 1.0,
) -> Tensor:
    """Negative likelihood ratio: ``false_negative_rate / specificity``."""
    return reduce_score(_lr_minus, tp, fp, fn, tn, reduction=reduction,
                        class_weights=class_weights, zero_division=zero_division, name="negative_likelihood_ratio")


precision = positive_predictive_value
recall = sensitivity
