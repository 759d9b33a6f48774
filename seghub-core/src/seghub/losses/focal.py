"""Focal loss: binary cross-entropy scaled by ``(1 - p_t) ** gamma``, one-vs-rest per class.

As in smp 0.6, every mode computes the sigmoid focal loss of each channel against its binary
target (in multiclass mode: "is this pixel of class k"); the pixel terms of a class are reduced
(mean over its non-ignored pixels, or sum), then the classes are combined by their weighted
mean. ``reduction="none"`` returns one value per pixel, (N, ...): the class-weighted mean of
its terms, 0 where ignored, so that its sum is the ``"sum"`` reduction.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from ._base import ArgumentError, Loss
from ._fused import FocalSums
from ._params import ClassWeights, Fraction, Mode, NonNegative, Positive, Reduction
from ._reduce import safe_divide
from ._targets import BINARY_MODE, MULTICLASS_MODE, binary_pair, check_batch, class_indices, class_weight_tensor

__all__ = ["FocalLoss"]

_NORMALIZER_FLOOR = 1e-6  # smp's floor of the normalized loss's denominator
class FocalLoss(Loss):
    """Focal loss (Lin et al. 2017) with smp 0.6's arguments.

    Args:
        mode: ``"binary"``, ``"multiclass"`` or ``"multilabel"`` (see :class:`DiceLoss`).
        alpha: Weight of the positive target (``1 - alpha`` of the negative); None for none.
        gamma: Focusing power; 0 gives binary cross-entropy.
        ignore_index: Target value of pixels that count nowhere.
        from_logits: y_pred holds logits; False: probabilities (clamped to ``[eps, 1 - eps]``).
        eps: The clamp of probabilities with ``from_logits=False``.
        reduction: ``"mean"`` or ``"sum"`` over each class's pixels, or ``"none"`` (see module).
        normalized: Divide each class's terms by the sum of its focal factors (arXiv:1909.07829).
        reduced_threshold: Reduced focal loss (arXiv:1903.01347): the factor is 1 where ``p_t <
            reduced_threshold``.
        class_weights: One weight per class; the classes' weighted mean (multiclass, multilabel).
    """

    def __init__(
        self,
        mode: Mode,
        alpha: Fraction | None = None,
        gamma: NonNegative = 2.0,
        ignore_index: int | None = None,
        from_logits: bool = True,
        eps: Positive = 1e-7,
        reduction: Reduction | None = "mean",
        normalized: bool = False,
        reduced_threshold: Positive | None = None,
        class_weights: ClassWeights = None,
    ) -> None:
        super().__init__()
        values = self._accept(locals())
        self.mode = values.mode
        self.alpha = values.alpha
        self.gamma = values.gamma
        self.ignore_index = values.ignore_index
        self.from_logits = values.from_logits
        self.eps = values.eps
        self.reduction = values.reduction or "none"
        self.normalized = values.normalized
        self.reduced_threshold = values.reduced_threshold
        weights = None if values.class_weights is None else torch.tensor(values.class_weights, dtype=torch.float32)
        self.register_buffer("class_weights", weights, persistent=False)

    @classmethod
    def _check_arguments(cls, values: Any) -> None:
        if values.mode == BINARY_MODE and values.class_weights is not None:
            raise ArgumentError("class_weights", "class weights need mode='multiclass' or 'multilabel' (binary has one class)")

    def _logits(self, y_pred: torch.Tensor) -> torch.Tensor:
        if self.from_logits:
            return y_pred
        # probabilities in every mode, since every mode takes the sigmoid of these logits
        # (smp 0.6 takes log(p) in multiclass mode, whose sigmoid is p / (1 + p), not p)
        probs = y_pred.clamp(self.eps, 1 - self.eps)
        return torch.log(probs / (1 - probs))

    def _terms(self, logits: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-element focal loss and focal factor."""
        bce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
        p_t = torch.exp(-bce)
        if self.reduced_threshold is None:
            factor = (1.0 - p_t).pow(self.gamma)
        else:
            factor = ((1.0 - p_t) / self.reduced_threshold).pow(self.gamma)
            factor = torch.where(p_t < self.reduced_threshold, 1.0, factor)
        loss = factor * bce
        if self.alpha is not None:
            loss = loss * (self.alpha * target + (1 - self.alpha) * (1 - target))
        return loss, factor

    def forward(self, y_pred: torch.Tensor, y_true: torch.Tensor) -> torch.Tensor:
        owner = f"FocalLoss(mode={self.mode!r})"
        check_batch(owner, y_pred, y_true)
        check_values = self._check_values_now(y_true)
        n, c = y_pred.shape[:2]
        labels = target = None
        if self.mode == MULTICLASS_MODE:
            if c < 2:
                raise ValueError(f"{owner}: needs at least 2 classes (channels); for one class use mode='binary'")
            labels, valid = class_indices(owner, y_pred, y_true, self.ignore_index, check_values)
            logits = self._logits(y_pred).reshape(n, c, -1)
            if valid is not None:
                valid = valid.unsqueeze(1)
        else:
            flat_pred, target, valid = binary_pair(owner, self.mode, y_pred, y_true, self.ignore_index, check_values)
            logits = self._logits(flat_pred)
        # non-ignored pixels (terms) per class
        if valid is None:
            count = logits.new_full((c,), logits.shape[0] * logits.shape[2])
        else:
            count = valid.sum((0, 2)).to(logits.dtype).expand(c)
        exists = count > 0
        weights = class_weight_tensor("FocalLoss", self.class_weights, c, logits)
        w = exists.to(logits.dtype) if weights is None else exists * weights
        if self.reduction != "none" and not self.normalized and self.reduced_threshold is None:
            autograd = torch.is_grad_enabled() and logits.requires_grad
            per_class = FocalSums.apply(logits, target, labels, valid, self.gamma, self.alpha, autograd)
        else:
            if labels is not None:
                classes = torch.arange(c, device=labels.device).view(1, c, 1)
                target = (labels.unsqueeze(1) == classes).to(logits.dtype)
            loss, factor = self._terms(logits, target)
            if valid is not None:
                loss = loss.masked_fill(~valid, 0)
            if self.normalized:
                if valid is not None:
                    factor = factor.masked_fill(~valid, 0)
                loss = loss / factor.sum((0, 2), keepdim=True).clamp_min(_NORMALIZER_FLOOR)
            if self.reduction == "none":
                per_pixel = (loss * w.view(1, c, 1)).sum(1) / w.sum().clamp_min(torch.finfo(loss.dtype).tiny)
                return per_pixel.reshape(y_pred.shape[:1] + y_pred.shape[2:])
            per_class = loss.sum((0, 2))
        if self.reduction == "mean":
            per_class = safe_divide(per_class, count)
        return safe_divide((per_class * w).sum(), w.sum())
