"""``ConfusionMatrixMetric``: a torchmetrics ``Metric`` that accumulates a confusion matrix.

torchmetrics keeps the state, resets it, moves it with the module and sums it across processes
(``dist_reduce_fx="sum"``), so Lightning logs and syncs it like any of its metrics; the counting
and the scores are :mod:`seghub.metrics._confusion`'s.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

try:
    from torchmetrics import Metric
except ImportError as exc:  # the functional API works without it
    raise ImportError(
        "seghub.metrics.ConfusionMatrixMetric needs torchmetrics: pip install \"seghub-core[metrics]\""
    ) from exc

import torch
from torch import Tensor

from ._confusion import ConfusionOptions, confusion_matrix_scores, count_confusion

__all__ = ["ConfusionMatrixMetric"]


class ConfusionMatrixMetric(Metric):
    """Dataset-level IoU, Dice and pixel accuracy from a confusion matrix summed over batches.

    ``update(preds, target)`` adds a batch's counts (see :func:`seghub.metrics.confusion_matrix`
    for the shapes each ``mode`` takes); ``compute()`` scores everything added since ``reset()``,
    summed over all processes under ``torch.distributed``; the counts are in ``confmat``.

    ``compute()`` returns a dict with exactly the keys ``iou``, ``miou``, ``dice``, ``mdice``
    and ``accuracy`` in every mode (``SCORE_KEYS``):

    - ``'multiclass'``: ``iou`` and ``dice`` ``(C,)`` per class, ``miou`` and ``mdice`` their
      means, ``accuracy`` the fraction of counted pixels whose predicted class is right;
    - ``'binary'``: ``iou`` and ``dice`` scalars, the foreground's; ``miou``/``mdice`` the same
      values; ``accuracy`` the fraction of counted pixels right (either label);
    - ``'multilabel'``: ``iou`` and ``dice`` ``(C,)``, each channel's positive label (scalars if
      ``C == 1``, as torchmetrics returns one-element results);
      ``miou``/``mdice`` their means; ``accuracy`` the fraction of pixel-channel decisions right.

    Pixels whose target is ``ignore_index`` count nowhere. A class absent from both target and
    prediction over everything seen scores NaN in ``iou``/``dice`` and is left out of the means.

    Args:
        mode: ``'multiclass'`` (default), ``'binary'`` or ``'multilabel'``.
        num_classes: classes (multiclass) or channels (multilabel); binary needs none.
        ignore_index: target label of pixels to leave out; outside the labels (``255``, ``-1``).
        threshold: binary/multilabel: positive where the probability is at least this.
        from_logits: binary/multilabel float preds are logits (``True``) or probabilities.
        kwargs: torchmetrics ``Metric`` options (``sync_on_compute``, ``process_group``, ...).
    """

    is_differentiable = False
    higher_is_better = True
    full_state_update = False
    confmat: Tensor

    def __init__(
        self,
        *,
        mode: str = "multiclass",
        num_classes: int | None = None,
        ignore_index: int | None = None,
        threshold: float | Sequence[float] = 0.5,
        from_logits: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.options = ConfusionOptions.check(
            mode=mode, num_classes=num_classes, ignore_index=ignore_index, threshold=threshold, from_logits=from_logits
        )
        self.add_state("confmat", default=torch.zeros(self.options.shape(), dtype=torch.long), dist_reduce_fx="sum")

    def update(self, preds: Tensor, target: Tensor) -> None:
        """Add the counts of one batch."""
        self.confmat += count_confusion(preds, target, self.options)

    def compute(self) -> dict[str, Tensor]:
        """``iou``, ``miou``, ``dice``, ``mdice`` and ``accuracy`` of everything added."""
        return confusion_matrix_scores(self.confmat)
