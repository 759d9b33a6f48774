"""Matthews correlation coefficient loss, ``1 - MCC`` of soft confusion counts (binary)."""

from __future__ import annotations

import torch

from ._base import Loss
from ._params import Positive
from ._targets import binary_valid, shape_text

__all__ = ["MCCLoss"]


class MCCLoss(Loss):
    """``1 - MCC`` over the whole batch (Abhishek & Hamarneh 2021); smp 0.6's arguments.

    y_pred: probabilities (not logits, as in smp), (N, 1, ...) or (N, ...); y_true: 0/1 of the
    same number of elements per image.

    Args:
        eps: Added to each soft count (TP, TN, FP, FN), so a batch of one class gives no 0/0.
    """

    def __init__(self, eps: Positive = 1e-5) -> None:
        super().__init__()
        self.eps = self._accept(locals()).eps

    def forward(self, y_pred: torch.Tensor, y_true: torch.Tensor) -> torch.Tensor:
        if y_true.shape[:1] != y_pred.shape[:1] or y_true.numel() != y_pred.numel():
            raise ValueError(
                f"MCCLoss: y_true must have one value per prediction, (N, ...) or (N, 1, ...) as y_pred"
                f" {shape_text(y_pred.shape)}; got {shape_text(y_true.shape)}"
            )
        if y_pred.dim() >= 2 and y_pred.shape[1] != 1 and y_true.shape != y_pred.shape:
            raise ValueError(f"MCCLoss: is binary; y_pred must have one channel, got {shape_text(y_pred.shape)}")
        binary_valid("MCCLoss", y_true, None, self._check_values_now(y_true))
        probs = y_pred.reshape(-1)
        target = y_true.reshape(-1).to(probs.dtype)
        # four soft counts from three sums: TN = n - predicted - true + TP
        tp = (probs * target).sum()
        predicted, true = probs.sum(), target.sum()
        eps = self.eps
        fp, fn = predicted - tp + eps, true - tp + eps
        tn = probs.numel() - predicted - true + tp + eps
        tp = tp + eps
        numerator = tp * tn - fp * fn
        denominator = torch.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
        return 1.0 - numerator / denominator
