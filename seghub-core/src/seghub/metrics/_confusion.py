"""Dataset-level scores from a confusion matrix, in plain PyTorch.

``confusion_matrix`` counts one batch; sums of its results over batches (or processes) are the
counts of the whole set, and ``confusion_matrix_scores`` turns them into IoU, Dice and accuracy.
:class:`seghub.metrics.ConfusionMatrixMetric` does the summing, across processes too.

A class absent from both target and prediction (its union is empty) has no IoU or Dice: it
scores NaN and is left out of the means. ``miou`` and ``mdice`` are NaN only if every class is
absent, ``accuracy`` only if no pixel was counted.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from ._counting import binary_counts, multiclass_confusion
from ._inputs import (
    binarize,
    check_ignore_index,
    check_integer_target,
    check_mode,
    check_num_classes,
    check_threshold,
    check_values,
)

__all__ = ["confusion_matrix", "confusion_matrix_scores", "SCORE_KEYS"]

SCORE_KEYS = ("iou", "miou", "dice", "mdice", "accuracy")


@dataclass(frozen=True)
class ConfusionOptions:
    """The checked arguments of :func:`confusion_matrix`."""

    mode: str
    num_classes: int
    ignore_index: int | None
    threshold: float | tuple[float, ...]
    from_logits: bool

    @classmethod
    def check(
        cls,
        *,
        mode: str,
        num_classes: int | None,
        ignore_index: int | None,
        threshold: float | Sequence[float],
        from_logits: bool,
    ) -> ConfusionOptions:
        mode = check_mode(mode)
        if mode == "binary":
            if num_classes not in (None, 1):
                raise ValueError(
                    f"'binary' mode has one (foreground) class, got num_classes={num_classes!r}: leave "
                    "num_classes unset, or use mode='multiclass' for a background and a foreground class"
                )
            classes = 1
        else:
            classes = check_num_classes(num_classes, mode=mode)
        cut = check_threshold(threshold)
        cuts = (cut,) if isinstance(cut, float) else cut
        if not all(0.0 <= value <= 1.0 for value in cuts):
            raise ValueError(f"threshold is a probability in [0, 1], got {threshold!r}")
        if not isinstance(from_logits, bool):
            raise ValueError(f"from_logits must be True or False, got {from_logits!r}")
        ignore = check_ignore_index(ignore_index, mode=mode, num_classes=classes)
        return cls(mode, classes, ignore, cut, from_logits)

    def shape(self) -> tuple[int, ...]:
        """The confusion matrix's shape: ``(C, C)`` multiclass, ``(C, 2, 2)`` otherwise."""
        c = self.num_classes
        return (c, c) if self.mode == "multiclass" else (c, 2, 2)


def _shapes(preds: Tensor, target: Tensor) -> str:
    return f"preds of shape {tuple(preds.shape)} and target of shape {tuple(target.shape)}"


def _class_indices(preds: Tensor, target: Tensor, options: ConfusionOptions) -> Tensor:
    """Multiclass predictions as ``(N, ...)`` class indices."""
    if preds.ndim == target.ndim + 1 and preds.shape[:1] + preds.shape[2:] == target.shape:
        if preds.shape[1] != options.num_classes:
            raise ValueError(
                f"preds has {preds.shape[1]} class scores (dim 1) but num_classes={options.num_classes}: "
                "set num_classes to the model's number of output channels"
            )
        return preds.argmax(1)
    if preds.shape == target.shape and target.ndim >= 1:
        if preds.is_floating_point() or preds.is_complex():
            raise ValueError(
                f"{_shapes(preds, target)} in 'multiclass' mode: float preds shaped like target are "
                "ambiguous; pass the logits (N, C, ...) or integer class indices (N, ...)"
            )
        return preds
    raise ValueError(
        f"{_shapes(preds, target)} do not fit 'multiclass' mode: pass class scores (N, C, ...) or "
        "class indices (N, ...) with target (N, ...)"
    )


def _positives(preds: Tensor, target: Tensor, options: ConfusionOptions) -> tuple[Tensor, Tensor]:
    """Binary and multilabel predictions as bools, both tensors ``(N, C, ...)``."""
    mode = options.mode
    if mode == "binary":
        if preds.ndim == target.ndim + 1 and preds.shape[1:2] == (1,):
            target = target.unsqueeze(1)
        elif target.ndim == preds.ndim + 1 and target.shape[1:2] == (1,):
            preds = preds.unsqueeze(1)
        elif preds.shape == target.shape and (preds.ndim < 2 or preds.shape[1] != 1):
            preds, target = preds.unsqueeze(1), target.unsqueeze(1)  # (N, ...) masks without channel
    if preds.shape != target.shape or preds.ndim < 2:
        layout = "(N, 1, ...) or (N, ...)" if mode == "binary" else f"(N, C={options.num_classes}, ...)"
        raise ValueError(f"{_shapes(preds, target)} do not fit {mode!r} mode: both must be {layout}")
    if preds.shape[1] != options.num_classes:
        raise ValueError(
            f"{_shapes(preds, target)}: {preds.shape[1]} channels (dim 1) but num_classes="
            f"{options.num_classes}: set num_classes to the number of channels"
        )
    if preds.is_floating_point():
        cut = options.threshold
        if options.from_logits:  # sigmoid(x) >= t  <=>  x >= log(t / (1 - t))
            cut = _logit(cut) if isinstance(cut, float) else tuple(_logit(value) for value in cut)
        return binarize(preds, cut, name="preds"), target
    check_values("preds", preds, top=2, fix="pass a 0/1 (or bool) mask, or float logits or probabilities")
    return preds.bool(), target


def _logit(probability: float) -> float:
    if probability <= 0.0:
        return -math.inf
    if probability >= 1.0:
        return math.inf
    return math.log(probability) - math.log1p(-probability)


def confusion_matrix(
    preds: Tensor,
    target: Tensor,
    *,
    mode: str = "multiclass",
    num_classes: int | None = None,
    ignore_index: int | None = None,
    threshold: float | Sequence[float] = 0.5,
    from_logits: bool = True,
) -> Tensor:
    """Pixel counts of one batch, to sum over batches and score with :func:`confusion_matrix_scores`.

    Args:
        preds: ``'multiclass'``: class scores (logits or probabilities) ``(N, C, ...)``, whose
            argmax over dim 1 is the prediction, or integer class indices ``(N, ...)``.
            ``'binary'``: one channel ``(N, 1, ...)`` or ``(N, ...)``; ``'multilabel'``: ``(N, C,
            ...)``, C independent channels. Binary and multilabel preds are floats, thresholded,
            or 0/1 integers or bools.
        target: integer class indices ``(N, ...)`` (multiclass), or 0/1 labels of ``preds``'s
            shape (binary may drop the channel); any pixel may be ``ignore_index``.
        mode: ``'multiclass'``, ``'binary'`` or ``'multilabel'``.
        num_classes: number of classes (multiclass) or channels (multilabel); binary has 1.
        ignore_index: target label of pixels left out of every count (per channel in
            multilabel mode); must lie outside the labels.
        threshold: binary and multilabel: a pixel is positive where its probability is at
            least ``threshold`` (a float, or one per channel).
        from_logits: float binary/multilabel preds are logits (``sigmoid`` gives the
            probability, so ``preds >= log(t / (1 - t))`` is positive); ``False``: they are
            probabilities already.

    Returns:
        int64 counts on ``preds``'s device: multiclass ``(C, C)``, rows the true class and columns
        the predicted one; binary and multilabel ``(C, 2, 2)``, per channel ``[[tn, fp], [fn, tp]]``
        (torchmetrics' layout).
    """
    options = ConfusionOptions.check(
        mode=mode, num_classes=num_classes, ignore_index=ignore_index, threshold=threshold, from_logits=from_logits
    )
    return count_confusion(preds, target, options)


def count_confusion(preds: Tensor, target: Tensor, options: ConfusionOptions) -> Tensor:
    """:func:`confusion_matrix` with checked options."""
    check_integer_target(target, mode=options.mode)
    if options.mode == "multiclass":
        indices = _class_indices(preds, target, options)
        return multiclass_confusion(
            indices, target, num_classes=options.num_classes, ignore_index=options.ignore_index
        )
    positive, target = _positives(preds, target, options)
    tp, fp, fn, tn = (count.sum(0) for count in binary_counts(positive, target, ignore_index=options.ignore_index))
    return torch.stack([torch.stack([tn, fp], -1), torch.stack([fn, tp], -1)], -2)


def confusion_matrix_scores(confmat: Tensor) -> dict[str, Tensor]:
    """IoU, Dice and accuracy of a confusion matrix from :func:`confusion_matrix` (or a sum of them).

    Returns a dict of float tensors (the default dtype) on ``confmat``'s device:

    - ``iou``: ``(C,)`` per class ``tp / (tp + fp + fn)``; a scalar if ``C == 1``;
    - ``miou``: scalar, the mean of ``iou`` over the classes that are not NaN;
    - ``dice``: ``(C,)`` per class ``2 tp / (2 tp + fp + fn)`` (the F1 score); a scalar if ``C == 1``;
    - ``mdice``: scalar, the mean of ``dice`` over the classes that are not NaN;
    - ``accuracy``: scalar, the fraction of counted pixels predicted right (multiclass), or of
      counted pixel-channel decisions (binary, multilabel).

    Multiclass: the C classes. Binary and multilabel: the positive label of each channel (in
    binary mode ``iou`` is the foreground's IoU, a scalar, and ``miou`` equals it); negatives
    count only in ``accuracy``. A class with ``tp + fp + fn == 0`` (absent from target and
    prediction) scores NaN in ``iou`` and ``dice`` and is left out of the means.
    """
    if confmat.ndim == 2 and confmat.shape[0] == confmat.shape[1]:
        tp = confmat.diagonal()
        fp = confmat.sum(0) - tp
        fn = confmat.sum(1) - tp
        right = tp.sum()
    elif confmat.ndim == 3 and confmat.shape[1:] == (2, 2):
        tp, fp, fn = confmat[:, 1, 1], confmat[:, 0, 1], confmat[:, 1, 0]
        right = (tp + confmat[:, 0, 0]).sum()
    else:
        raise ValueError(
            f"confmat must be (C, C) (multiclass) or (C, 2, 2) (binary, multilabel) counts from "
            f"confusion_matrix, got shape {tuple(confmat.shape)}"
        )
    # in the default float dtype, not float64: MPS has no float64, and counts below 2 ** 24 are exact
    dtype = torch.get_default_dtype()
    tp, fp, fn = tp.to(dtype), fp.to(dtype), fn.to(dtype)
    iou = tp / (tp + fp + fn)  # 0 / 0: NaN for an absent class
    dice = 2 * tp / (2 * tp + fp + fn)
    if iou.numel() == 1:  # one class (binary mode): a scalar, as torchmetrics returns it anyway
        iou, dice = iou[0], dice[0]
    return {
        "iou": iou,
        "miou": iou.nanmean(),
        "dice": dice,
        "mdice": dice.nanmean(),
        "accuracy": right.to(dtype) / confmat.sum().to(dtype),
    }
