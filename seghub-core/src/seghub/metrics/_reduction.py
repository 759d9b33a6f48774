"""How the score functions pool counts over images and classes, weigh classes and fill 0/0."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence

import torch
from torch import Tensor

REDUCTIONS = ("micro", "macro", "weighted", "micro-imagewise", "macro-imagewise", "weighted-imagewise", "none", None)
# reductions that average over classes, and so use class_weights
_CLASS_MEANS = ("macro", "weighted", "macro-imagewise", "weighted-imagewise")

Formula = Callable[[Tensor, Tensor, Tensor, Tensor], Tensor]


def _check_reduction(reduction: object) -> str | None:
    if reduction not in REDUCTIONS:
        allowed = ", ".join(repr(name) for name in REDUCTIONS)
        raise ValueError(f"reduction must be one of {allowed}, got {reduction!r}")
    return None if reduction == "none" else reduction  # type: ignore[return-value]


def _check_zero_division(zero_division: object) -> float | str:
    if zero_division == "warn":
        return "warn"
    if isinstance(zero_division, (int, float)) and not isinstance(zero_division, bool):
        return float(zero_division)
    raise ValueError(f"zero_division must be a number (the score of 0/0; nan keeps NaN) or 'warn', got {zero_division!r}")


def _check_stats(tp: Tensor, fp: Tensor, fn: Tensor, tn: Tensor, reduction: str | None) -> None:
    shapes = {tuple(t.shape) for t in (tp, fp, fn, tn)}
    if len(shapes) != 1:
        raise ValueError(f"tp, fp, fn and tn must have one shape, got {sorted(shapes)}: pass what get_stats returns")
    if reduction not in (None, "micro") and tp.ndim != 2:
        raise ValueError(
            f"reduction={reduction!r} takes (N, C) counts per image and class, as get_stats returns them; "
            f"got shape {tuple(tp.shape)}"
        )


def _check_class_weights(
    class_weights: Sequence[float] | Tensor | None, reduction: str | None, classes: int, device: torch.device
) -> Tensor | None:
    """The weights normalised to sum 1, or None when the reduction does not weigh classes."""
    if class_weights is None:
        if reduction is not None and reduction.startswith("weighted"):
            raise ValueError(
                f"reduction={reduction!r} needs class_weights, one weight per class (C={classes}); "
                "for equal weights use the 'macro' reductions"
            )
        return None
    if reduction not in _CLASS_MEANS:
        return None  # micro, micro-imagewise and none do not average over classes: as smp, unused
    weights = torch.as_tensor(class_weights, dtype=torch.get_default_dtype()).to(device)
    if weights.shape != (classes,):
        raise ValueError(f"class_weights must hold one weight per class ({classes}), got shape {tuple(weights.shape)}")
    if not bool(torch.isfinite(weights).all()) or bool((weights < 0).any()) or not float(weights.sum()) > 0:
        raise ValueError(f"class_weights must be finite, non-negative and not all 0, got {weights.tolist()}")
    return weights / weights.sum()


def _fill(score: Tensor, zero_division: float | str, name: str) -> Tensor:
    """Replace the NaN of 0/0 by ``zero_division`` (0 with a warning for ``'warn'``)."""
    undefined = torch.isnan(score)
    if zero_division == "warn":
        if bool(undefined.any()):
            warnings.warn(
                f"{name}: {int(undefined.sum())} value(s) divide 0 by 0 and are set to 0; pass "
                "zero_division=<value> to choose the value and silence this warning",
                UserWarning,
                stacklevel=5,  # _fill, score, reduce_score, the score function, its caller
            )
        zero_division = 0.0
    return torch.where(undefined, torch.tensor(zero_division, dtype=score.dtype, device=score.device), score)


def _class_mean(per_class: Tensor, weights: Tensor | None) -> Tensor:
    return per_class.mean() if weights is None else (per_class * weights).sum()


def reduce_score(
    formula: Formula,
    tp: Tensor,
    fp: Tensor,
    fn: Tensor,
    tn: Tensor,
    *,
    reduction: str | None,
    class_weights: Sequence[float] | Tensor | None,
    zero_division: float | str,
    name: str,
) -> Tensor:
    """``formula`` of the counts, pooled and averaged as ``reduction`` says."""
    reduction = _check_reduction(reduction)
    fill = _check_zero_division(zero_division)
    _check_stats(tp, fp, fn, tn, reduction)
    classes = tp.shape[-1] if tp.ndim else 1
    weights = _check_class_weights(class_weights, reduction, classes, tp.device)

    def score(*counts: Tensor) -> Tensor:
        return _fill(formula(*counts), fill, name)

    if reduction == "micro":
        return score(tp.sum(), fp.sum(), fn.sum(), tn.sum())
    if reduction == "micro-imagewise":
        return score(tp.sum(1), fp.sum(1), fn.sum(1), tn.sum(1)).mean()
    if reduction in ("macro", "weighted"):
        return _class_mean(score(tp.sum(0), fp.sum(0), fn.sum(0), tn.sum(0)), weights)
    if reduction in ("macro-imagewise", "weighted-imagewise"):
        return _class_mean(score(tp, fp, fn, tn).mean(0), weights)
    return score(tp, fp, fn, tn)
