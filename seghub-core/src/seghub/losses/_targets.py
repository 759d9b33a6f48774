"""Shape, dtype and value checks of predictions and targets, and the target layouts the losses use.

Shape and dtype checks read only metadata and run on every call. Value checks (class indices
in ``[0, classes)``, binary targets in ``[0, 1]``, each apart from ``ignore_index``) take one
``aminmax`` pass over the target and read two numbers back, which waits for an accelerator to
finish: they run on every call for CPU tensors and on the first call of each loss object
elsewhere, after which PyTorch's own device-side index checks remain (``Loss._check_values_now``).
On the CPU the check pays for itself: when ``ignore_index`` lies outside the target's range,
no pixel is ignored and the loss skips its masking.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

BINARY_MODE = "binary"
MULTICLASS_MODE = "multiclass"
MULTILABEL_MODE = "multilabel"


def shape_text(shape: torch.Size | tuple[int, ...]) -> str:
    return "(" + ", ".join(str(size) for size in shape) + ")"


def check_batch(owner: str, y_pred: torch.Tensor, y_true: torch.Tensor) -> None:
    if y_pred.dim() < 2:
        raise ValueError(
            f"{owner}: y_pred must have a batch and a channel dimension, (N, C, ...); got {shape_text(y_pred.shape)}"
        )
    if y_true.dim() < 1 or y_true.shape[0] != y_pred.shape[0]:
        raise ValueError(
            f"{owner}: y_true and y_pred must have the same batch size; got {shape_text(y_true.shape)} and"
            f" {shape_text(y_pred.shape)}"
        )


def value_range(values: torch.Tensor) -> tuple[float, float]:
    """The smallest and largest value of a tensor, in one pass (none for bool)."""
    if not values.numel():
        return 0, 0
    if values.dtype == torch.bool:
        return 0, 1
    low, high = torch.aminmax(values)
    return low.item(), high.item()


class ClassIndices(NamedTuple):
    """A multiclass target: ``labels`` (N, P) int64 with ignored pixels set to 0, ``valid``
    (N, P) bool, or None when no pixel is ignored (as far as known)."""

    labels: torch.Tensor
    valid: torch.Tensor | None


def class_indices(
    owner: str,
    y_pred: torch.Tensor,
    y_true: torch.Tensor,
    ignore_index: int | None,
    check_values: bool,
) -> ClassIndices:
    """Check a class-index target against a (N, C, ...) prediction and flatten it to (N, P)."""
    classes = y_pred.shape[1]
    expected = y_pred.shape[:1] + y_pred.shape[2:]
    with_channel = y_pred.shape[:1] + (1,) + y_pred.shape[2:]
    if y_true.shape != expected and y_true.shape != with_channel:
        hint = ""
        if y_true.shape == y_pred.shape:
            hint = (" A one-hot target converts with y_true.argmax(1); for independent channels (several classes per"
                    " pixel) use mode='multilabel'.")
        raise ValueError(
            f"{owner}: y_true must hold class indices of shape {shape_text(expected)} (or {shape_text(with_channel)})"
            f" for a prediction of shape {shape_text(y_pred.shape)}; got {shape_text(y_true.shape)}.{hint}"
        )
    if y_true.is_floating_point() or y_true.is_complex():
        raise ValueError(
            f"{owner}: y_true must hold class indices as an integer tensor; got {y_true.dtype}. Convert it with"
            " y_true.long() if it holds whole numbers (a float target of probabilities per class needs mode='multilabel')."
        )
    labels = y_true.reshape(y_true.shape[0], -1)
    valid = None
    if check_values:
        low, high = value_range(labels)
        if ignore_index is not None and low <= ignore_index <= high:
            valid = labels != ignore_index
            labels = labels.masked_fill(~valid, 0)
            low, high = value_range(labels)
        if low < 0 or high >= classes:
            bad = int(low if low < 0 else high)
            fix = f"set ignore_index={bad} if it marks pixels to ignore" if ignore_index is None else (
                f"only ignore_index={ignore_index} may lie outside")
            raise ValueError(
                f"{owner}: y_true holds class {bad}, outside [0, {classes}) for a prediction with {classes} classes;"
                f" {fix}"
            )
    elif ignore_index is not None:
        valid = labels != ignore_index
        labels = labels.masked_fill(~valid, 0)
    return ClassIndices(labels.long(), valid)


def binary_valid(owner: str, y_true: torch.Tensor, ignore_index: int | None, check_values: bool) -> torch.Tensor | None:
    """The mask of non-ignored entries of a binary or multilabel target (None when none is
    ignored, as far as known), after checking that the others are 0, 1 or in between."""
    if not check_values:
        return None if ignore_index is None else y_true != ignore_index
    low, high = value_range(y_true)
    valid = None
    if ignore_index is not None and low <= ignore_index <= high:
        valid = y_true != ignore_index
        low, high = value_range(y_true.masked_fill(~valid, 0))
    if low < 0 or high > 1:
        bad = low if low < 0 else high
        fix = ", or ignore_index" if ignore_index is not None else "; set ignore_index if it marks entries to ignore"
        raise ValueError(
            f"{owner}: y_true holds {bad:g}, outside [0, 1]; binary and multilabel targets are 0 or 1 (soft labels in"
            f" between){fix}. For class indices use mode='multiclass'."
        )
    return valid


def same_layout(owner: str, mode: str, y_pred: torch.Tensor, y_true: torch.Tensor) -> torch.Tensor:
    """A binary or multilabel target, reshaped to the prediction's shape."""
    if mode == BINARY_MODE and y_pred.shape[1] != 1:
        raise ValueError(
            f"{owner}: mode='binary' takes a one-channel prediction (N, 1, ...); got {shape_text(y_pred.shape)}. For"
            f" {y_pred.shape[1]} classes use mode='multiclass' (class-index target) or 'multilabel' (one target"
            " channel per class)."
        )
    if y_true.shape == y_pred.shape:
        return y_true
    without_channel = y_pred.shape[:1] + y_pred.shape[2:]
    if mode == BINARY_MODE and y_true.shape == without_channel:
        return y_true.unsqueeze(1)
    if mode == BINARY_MODE:
        expected, hint = f"{shape_text(y_pred.shape)} or {shape_text(without_channel)}", ""
    else:
        expected = shape_text(y_pred.shape)
        hint = " For class indices of shape (N, ...) use mode='multiclass'." if y_true.shape == without_channel else ""
    raise ValueError(f"{owner}: y_true must have shape {expected} in mode={mode!r}; got {shape_text(y_true.shape)}.{hint}")


class Binary(NamedTuple):
    """A binary or multilabel pair flattened to (N, C, P): ``target`` in y_pred's dtype with
    ignored entries set to 0, ``valid`` (N, C, P) bool or None."""

    y_pred: torch.Tensor
    target: torch.Tensor
    valid: torch.Tensor | None


def binary_pair(
    owner: str, mode: str, y_pred: torch.Tensor, y_true: torch.Tensor, ignore_index: int | None, check_values: bool
) -> Binary:
    y_true = same_layout(owner, mode, y_pred, y_true)
    n, c = y_pred.shape[:2]
    target = y_true.reshape(n, c, -1)
    valid = binary_valid(owner, target, ignore_index, check_values)
    target = target.to(y_pred.dtype)
    if valid is not None:
        target = target.masked_fill(~valid, 0)
    return Binary(y_pred.reshape(n, c, -1), target, valid)


def class_weight_tensor(
    owner: str, weights: torch.Tensor | None, classes: int, like: torch.Tensor
) -> torch.Tensor | None:
    """``class_weights`` on ``like``'s device and dtype, checked against the number of classes."""
    if weights is None:
        return None
    if weights.numel() != classes:
        raise ValueError(
            f"{owner}: class_weights has {weights.numel()} entries but the prediction has {classes} classes; give one"
            " weight per class (channel)"
        )
    return weights.to(device=like.device, dtype=like.dtype)
