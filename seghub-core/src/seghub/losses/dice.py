"""The overlap losses: Dice, Jaccard (IoU) and Tversky, as soft scores per class.

For each class (and each image with ``per_image=True``) the soft true positives, false
positives and false negatives give the Tversky score ``(TP + smooth) / (TP + alpha FP + beta FN
+ smooth)``; Dice is alpha = beta = 1/2 and Jaccard alpha = beta = 1. The soft TP of a pixel is
``min(p, t)``, which is ``p * t`` for hard targets (smp 0.6 computes the same through
``|p - t|``). Classes without a target pixel have no term (see ``_reduce``).
"""

from __future__ import annotations

from typing import Any

import torch

from ._base import ArgumentError, Loss
from ._params import ClassList, ClassWeights, Mode, NonNegative, Positive
from ._reduce import weighted_mean
from ._targets import BINARY_MODE, MULTICLASS_MODE, binary_pair, check_batch, class_indices, class_weight_tensor

__all__ = ["DiceLoss", "JaccardLoss", "TverskyLoss"]


class _OverlapLoss(Loss):
    """Shared by the three: the soft confusion sums, the score and the class mean."""

    alpha: float
    beta: float
    mode: str

    def _setup(self, values: Any) -> None:
        self.mode = values.mode
        self.classes = values.classes
        self.log_loss = values.log_loss
        self.from_logits = values.from_logits
        self.smooth = values.smooth
        self.ignore_index = values.ignore_index
        self.eps = values.eps
        self.per_image = values.per_image
        weights = None if values.class_weights is None else torch.tensor(values.class_weights, dtype=torch.float32)
        self.register_buffer("class_weights", weights, persistent=False)

    @classmethod
    def _check_arguments(cls, values: Any) -> None:
        if values.mode == BINARY_MODE and values.classes is not None:
            raise ArgumentError("classes", "choosing classes needs mode='multiclass' or 'multilabel' (binary has one)")
        if values.mode == BINARY_MODE and values.class_weights is not None:
            raise ArgumentError("class_weights", "class weights need mode='multiclass' or 'multilabel' (binary has one class)")

    def _sums(self, y_pred: torch.Tensor, y_true: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Soft (TP, predicted, true) sums of shape (N, C)."""
        owner = f"{type(self).__name__}(mode={self.mode!r})"
        check_batch(owner, y_pred, y_true)
        check_values = self._check_values_now(y_true)
        n, c = y_pred.shape[:2]
        if self.mode == MULTICLASS_MODE:
            if c < 2:
                raise ValueError(f"{owner}: needs at least 2 classes (channels); for one class use mode='binary'")
            labels, valid = class_indices(owner, y_pred, y_true, self.ignore_index, check_values)
            probs = (y_pred.softmax(1) if self.from_logits else y_pred).reshape(n, c, -1)
            # TP of class k: the probability of k summed over the pixels labelled k; gathered and
            # scattered by label rather than multiplied with a one-hot (N, C, P) target
            on_label = probs.gather(1, labels.unsqueeze(1)).squeeze(1)
            if valid is None:
                counts = torch.ones_like(on_label)
                predicted = probs.sum(2)
            else:
                counts = valid.to(probs.dtype)
                on_label = on_label * counts
                predicted = torch.bmm(probs, counts.unsqueeze(2)).squeeze(2)
            tp = probs.new_zeros(n, c).scatter_add(1, labels, on_label)
            true = probs.new_zeros(n, c).scatter_add(1, labels, counts)
            return tp, predicted, true
        probs_in, target, valid = binary_pair(owner, self.mode, y_pred, y_true, self.ignore_index, check_values)
        probs = torch.sigmoid(probs_in) if self.from_logits else probs_in
        if valid is not None:
            probs = probs.masked_fill(~valid, 0)
        return torch.minimum(probs, target).sum(2), probs.sum(2), target.sum(2)

    def forward(self, y_pred: torch.Tensor, y_true: torch.Tensor) -> torch.Tensor:
        tp, predicted, true = self._sums(y_pred, y_true)
        if not self.per_image:
            tp, predicted, true = tp.sum(0, keepdim=True), predicted.sum(0, keepdim=True), true.sum(0, keepdim=True)
        fp, fn = predicted - tp, true - tp
        score = (tp + self.smooth) / (tp + self.alpha * fp + self.beta * fn + self.smooth).clamp_min(self.eps)
        loss = -torch.log(score.clamp_min(self.eps)) if self.log_loss else 1.0 - score
        exists = true > 0
        weights = class_weight_tensor(type(self).__name__, self.class_weights, loss.shape[1], loss)
        if self.classes is not None:
            if max(self.classes) >= loss.shape[1]:
                raise ValueError(
                    f"{type(self).__name__}: classes={list(self.classes)} names class {max(self.classes)}, but the"
                    f" prediction has {loss.shape[1]} classes"
                )
            pick = list(self.classes)
            loss, exists = loss[:, pick], exists[:, pick]
            weights = None if weights is None else weights[pick]
        return self._finish(weighted_mean(loss, exists, weights))

    def _finish(self, loss: torch.Tensor) -> torch.Tensor:
        return loss


class DiceLoss(_OverlapLoss):
    """Dice loss, ``1 - Dice`` (or ``-log Dice``), averaged over classes; smp 0.6's arguments.

    Args:
        mode: ``"binary"`` (y_pred (N, 1, ...), y_true (N, ...) or (N, 1, ...) of 0/1),
            ``"multiclass"`` (y_pred (N, C, ...), y_true (N, ...) of class indices) or
            ``"multilabel"`` (y_pred and y_true (N, C, ...), y_true of 0/1).
        classes: The classes that count (default all).
        log_loss: ``-log(score)`` instead of ``1 - score``.
        from_logits: y_pred holds logits (softmax for multiclass, sigmoid otherwise), not probabilities.
        smooth: Added to the numerator and the denominator of the score.
        ignore_index: Target value of pixels that count nowhere.
        eps: Lower bound of the denominator (and of the score with ``log_loss``).
        class_weights: One weight per class: the loss is the weighted mean over classes.
        per_image: Score each image separately and average (default: one score per class over
            the whole batch, as smp).
    """

    alpha = beta = 0.5

    def __init__(
        self,
        mode: Mode,
        classes: ClassList = None,
        log_loss: bool = False,
        from_logits: bool = True,
        smooth: NonNegative = 0.0,
        ignore_index: int | None = None,
        eps: Positive = 1e-7,
        class_weights: ClassWeights = None,
        *,
        per_image: bool = False,
    ) -> None:
        super().__init__()
        self._setup(self._accept(locals()))


class JaccardLoss(_OverlapLoss):
    """Jaccard (IoU) loss, ``1 - IoU`` (or ``-log IoU``), averaged over classes; the arguments of
    :class:`DiceLoss`."""

    alpha = beta = 1.0

    def __init__(
        self,
        mode: Mode,
        classes: ClassList = None,
        log_loss: bool = False,
        from_logits: bool = True,
        smooth: NonNegative = 0.0,
        ignore_index: int | None = None,
        eps: Positive = 1e-7,
        class_weights: ClassWeights = None,
        *,
        per_image: bool = False,
    ) -> None:
        super().__init__()
        self._setup(self._accept(locals()))


class TverskyLoss(_OverlapLoss):
    """Tversky loss: ``alpha`` weighs false positives, ``beta`` false negatives, and the class
    mean is raised to ``gamma``; the other arguments are :class:`DiceLoss`'s."""

    def __init__(
        self,
        mode: Mode,
        classes: ClassList = None,
        log_loss: bool = False,
        from_logits: bool = True,
        smooth: NonNegative = 0.0,
        ignore_index: int | None = None,
        eps: Positive = 1e-7,
        alpha: NonNegative = 0.5,
        beta: NonNegative = 0.5,
        gamma: Positive = 1.0,
        class_weights: ClassWeights = None,
        *,
        per_image: bool = False,
    ) -> None:
        super().__init__()
        values = self._accept(locals())
        self._setup(values)
        self.alpha, self.beta, self.gamma = values.alpha, values.beta, values.gamma

    def _finish(self, loss: torch.Tensor) -> torch.Tensor:
        if self.gamma == 1.0:
            return loss
        # 0 stays 0 with a finite gradient (x ** gamma has none at 0 for gamma < 1)
        return torch.where(loss > 0, loss.clamp_min(torch.finfo(loss.dtype).tiny) ** self.gamma, loss)

