"""The one way seghub's losses combine class terms: a weighted mean over the terms that exist.

A term exists when its class has something to measure: a target pixel for the overlap losses
(Dice, Jaccard, Tversky, Lovasz), a non-ignored pixel for the pixel losses. Missing terms add
nothing to the numerator or the denominator, and when no term exists the result is 0 (with a
zero gradient) rather than 0/0.
"""

from __future__ import annotations

import torch


def safe_divide(numerator: torch.Tensor, denominator: torch.Tensor) -> torch.Tensor:
    """``numerator / denominator`` where the denominator is positive, else 0 (no device sync)."""
    positive = denominator > 0
    return torch.where(positive, numerator / torch.where(positive, denominator, 1), 0)


def weighted_mean(
    loss: torch.Tensor, exists: torch.Tensor, weights: torch.Tensor | None = None
) -> torch.Tensor:
    """Mean of (R, K) ``loss`` terms: per row, the mean over the existing terms weighted by
    ``weights`` (K,); then the plain mean over the rows with at least one (weighted) term."""
    w = exists.to(loss.dtype)
    if weights is not None:
        w = w * weights
    numerator = (torch.where(exists, loss, 0) * w).sum(1)
    denominator = w.sum(1)
    counted = denominator > 0
    per_row = safe_divide(numerator, denominator)
    return per_row.sum() / counted.sum().clamp_min(1)
