"""Argument and tensor checks shared by ``get_stats``, ``confusion_matrix`` and the metric class.

Every check raises a ``ValueError`` that names the argument, what was expected and the fix. The
checks on tensor values cost one min/max pass in the common case; the slower search for the
offending values runs only to word the error.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

MODES = ("binary", "multiclass", "multilabel")


def check_mode(mode: object) -> str:
    if mode not in MODES:
        raise ValueError(f"mode must be one of 'binary', 'multiclass', 'multilabel', got {mode!r}")
    return str(mode)


def check_num_classes(num_classes: object, *, mode: str) -> int:
    if num_classes is None:
        raise ValueError(f"num_classes is required in {mode!r} mode: pass the number of classes, num_classes=C")
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"num_classes must be a positive int, got {num_classes!r}")
    return num_classes


def check_ignore_index(ignore_index: object, *, mode: str, num_classes: int | None) -> int | None:
    """``ignore_index`` must lie outside the labels: [0, num_classes) in multiclass mode, {0, 1}
    in binary and multilabel mode."""
    if ignore_index is None:
        return None
    if isinstance(ignore_index, bool) or not isinstance(ignore_index, int):
        raise ValueError(f"ignore_index must be an int or None, got {ignore_index!r}")
    top = num_classes if mode == "multiclass" and num_classes is not None else 2
    if 0 <= ignore_index < top:
        labels = f"the classes 0..{top - 1}" if mode == "multiclass" else "the labels 0 and 1"
        raise ValueError(
            f"ignore_index={ignore_index} is one of {labels}; it must lie outside them (-1 or 255 are "
            "usual): relabel the pixels to leave out, or shift the class labels so that they start at 0"
        )
    return ignore_index


def check_integer_target(target: Tensor, *, mode: str) -> None:
    if target.is_floating_point() or target.is_complex():
        what = "class indices" if mode == "multiclass" else "0/1 labels"
        raise ValueError(
            f"target must hold {what} as an integer or bool tensor, got {target.dtype}; "
            "convert it with target.long() (round it first if it holds float labels)"
        )


def check_threshold(threshold: object) -> float | tuple[float, ...]:
    """A float, or one float per channel (a sequence or 1-D tensor)."""
    values = threshold.tolist() if isinstance(threshold, Tensor) else threshold
    if isinstance(values, (int, float)) and not isinstance(values, bool):
        return float(values)
    if isinstance(values, Sequence) and values and all(
        isinstance(value, (int, float)) and not isinstance(value, bool) for value in values
    ):
        return tuple(float(value) for value in values)
    raise ValueError(f"threshold must be a float or one float per channel, got {threshold!r}")


def binarize(values: Tensor, threshold: float | tuple[float, ...], *, name: str) -> Tensor:
    """``values >= threshold`` as bool, a per-channel threshold applying along dim 1."""
    if isinstance(threshold, float):
        return values >= threshold
    channels = values.shape[1] if values.ndim > 1 else 0
    if len(threshold) != channels:
        raise ValueError(
            f"threshold has {len(threshold)} values but {name} has {channels} channels (dim 1) "
            f"of shape {tuple(values.shape)}: pass one threshold per channel, or a single float"
        )
    per_channel = torch.tensor(threshold, dtype=torch.float64, device=values.device)
    per_channel = per_channel.to(values.dtype if values.is_floating_point() else torch.float64)
    return values >= per_channel.view(-1, *([1] * (values.ndim - 2)))


def _out_of_range(values: Tensor, top: int, ignore_index: int | None) -> list[int]:
    """Up to five distinct values outside [0, top) other than ``ignore_index``."""
    bad = (values < 0) | (values >= top)
    if ignore_index is not None:
        bad &= values != ignore_index
    if not bool(bad.any()):
        return []
    return values[bad].unique()[:5].tolist()


def range_error(name: str, found: list[int], *, top: int, ignore_index: int | None, fix: str) -> ValueError:
    allowed = "{0, 1}" if top == 2 else f"[0, {top})"
    if ignore_index is not None:
        allowed += f" or ignore_index={ignore_index}"
    return ValueError(f"{name} holds values {found} outside {allowed}: {fix}")


def check_values(name: str, values: Tensor, *, top: int, ignore_index: int | None = None, fix: str) -> None:
    """Every value of the integer tensor ``values`` is in [0, top) or equals ``ignore_index``."""
    if values.numel() == 0 or values.dtype == torch.bool:
        return
    low, high = torch.aminmax(values)
    if int(low) >= 0 and int(high) < top:
        return
    found = _out_of_range(values, top, ignore_index)
    if found:
        raise range_error(name, found, top=top, ignore_index=ignore_index, fix=fix)
