"""``get_stats``: true/false positives/negatives per image and class, smp 0.6's first step."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor

from ._counting import binary_counts, multiclass_image_counts
from ._inputs import (
    binarize,
    check_ignore_index,
    check_integer_target,
    check_mode,
    check_num_classes,
    check_threshold,
    check_values,
)

__all__ = ["get_stats"]


def _shape(tensor: Tensor) -> tuple[int, ...]:
    return tuple(tensor.shape)


def _check_multiclass(output: Tensor, target: Tensor, threshold: object) -> None:
    if output.is_floating_point() or output.is_complex():
        raise ValueError(
            f"output holds {output.dtype} values, but 'multiclass' mode takes class indices: "
            "pass output.argmax(1) of the logits"
        )
    if threshold is not None:
        raise ValueError(
            "threshold binarises 'binary' and 'multilabel' outputs; 'multiclass' mode takes class "
            "indices: leave threshold=None"
        )
    if output.shape == target.shape and output.ndim >= 1:
        return
    scores = output.ndim == target.ndim + 1 and output.shape[:1] + output.shape[2:] == target.shape
    hint = "it looks like class scores (N, C, ...): pass output.argmax(1)" if scores else (
        "both must be (N, ...) class indices"
    )
    raise ValueError(
        f"output of shape {_shape(output)} does not match target of shape {_shape(target)} in "
        f"'multiclass' mode: {hint}"
    )


def _check_binary_shapes(output: Tensor, target: Tensor, mode: str) -> None:
    if output.shape != target.shape:
        raise ValueError(
            f"output of shape {_shape(output)} does not match target of shape {_shape(target)} in "
            f"{mode!r} mode: both must be (N, {'1' if mode == 'binary' else 'C'}, ...)"
        )
    if output.ndim < 2:
        raise ValueError(f"{mode!r} mode takes (N, C, ...) tensors, got shape {_shape(output)}: add the channel with .unsqueeze(1)")
    if mode == "binary" and output.shape[1] != 1:
        raise ValueError(
            f"'binary' mode takes one channel, (N, 1, ...), got shape {_shape(output)}: add the channel "
            "with .unsqueeze(1) to (N, H, W) masks, or use mode='multilabel' for C independent channels"
        )


def get_stats(
    output: Tensor,
    target: Tensor,
    mode: str,
    ignore_index: int | None = None,
    threshold: float | Sequence[float] | None = None,
    num_classes: int | None = None,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """True positive, false positive, false negative and true negative pixels per image and class.

    As ``segmentation_models_pytorch.metrics.get_stats``; feed the four tensors to the score
    functions (:func:`iou_score`, :func:`f1_score`, ...).

    Args:
        output: ``'binary'``: ``(N, 1, ...)``; ``'multilabel'``: ``(N, C, ...)``, both 0/1
            integers or bools, or floats with ``threshold``; ``'multiclass'``: ``(N, ...)``
            integer class indices (the ``argmax`` of the logits over dim 1).
        target: integer labels of ``output``'s shape: 0/1 in binary and multilabel mode, class
            indices in ``[0, num_classes)`` in multiclass mode; anything may also be
            ``ignore_index``.
        mode: ``'binary'``, ``'multiclass'`` or ``'multilabel'``.
        ignore_index: target label of pixels to leave out of all four counts; outside the
            labels (``-1``, ``255``). Binary and multilabel mode take it too (smp refuses it).
        threshold: binary and multilabel mode: ``output >= threshold`` is positive; a float or
            one float per channel. Applies to ``output`` only: ``target`` must already be 0/1.
        num_classes: the number of classes, required in multiclass mode (ignored otherwise).

    Returns:
        ``(tp, fp, fn, tn)``, each an int64 ``(N, C)`` tensor on ``output``'s device
        (``C = 1`` in binary mode).

    Raises:
        ValueError: for an unknown ``mode``, shapes that do not fit it, float targets, labels
            outside the classes other than ``ignore_index``, or float ``output`` without
            ``threshold`` (or with it, in multiclass mode).
    """
    mode = check_mode(mode)
    check_integer_target(target, mode=mode)
    if mode == "multiclass":
        _check_multiclass(output, target, threshold)
        classes = check_num_classes(num_classes, mode=mode)
        ignore = check_ignore_index(ignore_index, mode=mode, num_classes=classes)
        right, predicted, true, counted = multiclass_image_counts(
            output, target, num_classes=classes, ignore_index=ignore, pred_name="output"
        )
        fp, fn = predicted - right, true - right
        return right, fp, fn, counted - right - fp - fn

    _check_binary_shapes(output, target, mode)
    ignore = check_ignore_index(ignore_index, mode=mode, num_classes=None)
    if threshold is None:
        if output.is_floating_point() or output.is_complex():
            raise ValueError(
                f"output holds {output.dtype} values: pass threshold= to binarise them (0.5 for "
                "probabilities, 0.0 for logits), or a 0/1 integer mask"
            )
        check_values("output", output, top=2, fix="pass a 0/1 mask, or threshold= to binarise it")
        positive = output.bool()
    else:
        positive = binarize(output, check_threshold(threshold), name="output")
    return binary_counts(positive, target, ignore_index=ignore)
