"""Segmentation metrics: smp 0.6's functional API and a dataset-level confusion-matrix metric.

``from seghub.metrics import get_stats, iou_score`` replaces ``segmentation_models_pytorch.metrics``:
:func:`get_stats` counts true/false positives/negatives per image and class, and the score
functions reduce them (``reduction``, ``class_weights``, ``zero_division``).

For whole-dataset scores, :func:`confusion_matrix` counts a batch and
:func:`confusion_matrix_scores` gives IoU, Dice and accuracy of summed counts;
:class:`ConfusionMatrixMetric` (a torchmetrics ``Metric``; ``pip install "seghub-core[metrics]"``)
accumulates them over batches and processes. Importing this package needs torch, not torchmetrics.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_attributes
from ._confusion import SCORE_KEYS, confusion_matrix, confusion_matrix_scores
from ._scores import (
    accuracy,
    balanced_accuracy,
    f1_score,
    false_discovery_rate,
    false_negative_rate,
    false_omission_rate,
    false_positive_rate,
    fbeta_score,
    iou_score,
    negative_likelihood_ratio,
    negative_predictive_value,
    positive_likelihood_ratio,
    positive_predictive_value,
    precision,
    recall,
    sensitivity,
    specificity,
)
from ._stats import get_stats

if TYPE_CHECKING:
    from ._metric import ConfusionMatrixMetric

__all__ = [
    "get_stats",
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
    "confusion_matrix",
    "confusion_matrix_scores",
    "SCORE_KEYS",
    "ConfusionMatrixMetric",
]

# ConfusionMatrixMetric imports torchmetrics, so only on first use; without torchmetrics that
# use raises ImportError naming the extra to install
__getattr__, __dir__ = lazy_attributes(__name__, {"ConfusionMatrixMetric": "seghub.metrics._metric"})
