"""Lovasz losses (Berman et al. 2018): the Lovasz extension of the Jaccard loss.

Multiclass mode is Lovasz-Softmax: per class, the errors ``|fg - p|`` sorted in decreasing
order are weighted by the increments of the Jaccard loss along that order; classes without a
target pixel have no term (smp's ``classes="present"``). Binary and multilabel modes are the
Lovasz hinge on the logits, all channels of an image (or of the batch) together, as in smp.

How it is fast: the sort only decides which Jaccard increment each pixel gets, so it runs
without autograd, and the increments are written back to the pixels' own positions; the loss
is then a plain weighted sum of the errors, whose gradient is those weights. On the CPU each
row is sorted by integer keys (the bits of a non-negative float order like the float), which
PyTorch sorts with a radix sort, several times faster than a float sort; elsewhere all rows
go through one batched ``torch.sort``. Ignored pixels get error 0 and no target, so they sort
last and change neither the loss nor its gradient.
"""

from __future__ import annotations

from typing import Any

import torch

from ._base import ArgumentError, Loss
from ._params import ClassWeights, Mode
from ._reduce import weighted_mean
from ._targets import MULTICLASS_MODE, binary_pair, check_batch, class_indices, class_weight_tensor

__all__ = ["LovaszLoss"]

_PROBABILITY_FLOOR = 1e-7  # clamp of probabilities turned into logits (from_logits=False), as FocalLoss's eps
_BITS = {torch.float64: torch.int64, torch.float32: torch.int32, torch.float16: torch.int16, torch.bfloat16: torch.int16}


def _jaccard_increments(fg_sorted: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """For (R, P) targets sorted by decreasing error, the increments of ``1 - IoU`` along each
    row, in ``dtype``."""
    length = fg_sorted.shape[1]
    if not fg_sorted.is_floating_point():
        count_dtype = torch.int32  # exact counts at any size
    else:  # soft labels: float32 sums of 0/1 stay exact below 2**24 per row
        count_dtype = torch.float64 if length >= 2**24 else fg_sorted.dtype
    hits = torch.cumsum(fg_sorted, 1, dtype=count_dtype)
    total = hits[:, -1:]
    seen = torch.arange(1, length + 1, device=fg_sorted.device, dtype=count_dtype)
    intersection, union = total - hits, total + (seen - hits)
    if dtype == torch.float64:  # else the division gives float32
        intersection, union = intersection.double(), union.double()
    jaccard = (1.0 - intersection / union).to(dtype)
    return torch.diff(jaccard, dim=1, prepend=torch.zeros_like(jaccard[:, :1]))


def _descending_keys(errors: torch.Tensor) -> torch.Tensor:
    """Integer keys whose ascending order is the decreasing order of non-negative ``errors``:
    such floats order as their bit patterns do (the sign bit is cleared, for -0.0)."""
    bits = _BITS[errors.dtype]
    infinity = torch.tensor(float("inf"), dtype=errors.dtype).view(bits)
    return infinity - (errors.contiguous().view(bits) & torch.iinfo(bits).max)


@torch.no_grad()
def _increments(
    errors: torch.Tensor, fg: torch.Tensor, rows: torch.Tensor | None = None, batched: bool | None = None
) -> torch.Tensor:
    """The Jaccard increment of each element of (R, P) non-negative ``errors`` with targets
    ``fg``, at the element's own position: the Lovasz loss of a row is ``(errors * result).sum()``.
    ``rows`` (R,) bool, if given, limits the work to those rows on the CPU (the others may hold
    anything). ``batched`` (default: off the CPU) sorts all rows in one call."""
    out = torch.zeros(errors.shape, dtype=errors.dtype, device=errors.device)
    if not (errors.device.type != "cpu" if batched is None else batched):
        wanted = range(errors.shape[0]) if rows is None else torch.nonzero(rows).flatten().tolist()
        for row in wanted:
            order = torch.sort(_descending_keys(errors[row])).indices
            increments = _jaccard_increments(fg[row].index_select(0, order).unsqueeze(0), out.dtype)
            out[row].scatter_(0, order, increments.squeeze(0))
    else:
        order = torch.sort(errors, dim=1, descending=True).indices
        out.scatter_(1, order, _jaccard_increments(fg.gather(1, order), out.dtype))
    return out


class LovaszLoss(Loss):
    """Lovasz loss with smp 0.6's arguments.

    Args:
        mode: ``"binary"``, ``"multiclass"`` or ``"multilabel"`` (see :class:`DiceLoss`).
        per_image: One loss per image, averaged; default one for the whole batch.
        ignore_index: Target value of pixels that count nowhere.
        from_logits: y_pred holds logits; False: probabilities (multiclass uses them as they are,
            binary and multilabel turn them into logits for the hinge).
        class_weights: One weight per class, multiclass mode only: the loss is the weighted
            mean over the classes present.
    """

    def __init__(
        self,
        mode: Mode,
        per_image: bool = False,
        ignore_index: int | None = None,
        from_logits: bool = True,
        *,
        class_weights: ClassWeights = None,
    ) -> None:
        super().__init__()
        values = self._accept(locals())
        self.mode = values.mode
        self.per_image = values.per_image
        self.ignore_index = values.ignore_index
        self.from_logits = values.from_logits
        weights = None if values.class_weights is None else torch.tensor(values.class_weights, dtype=torch.float32)
        self.register_buffer("class_weights", weights, persistent=False)

    @classmethod
    def _check_arguments(cls, values: Any) -> None:
        if values.mode != MULTICLASS_MODE and values.class_weights is not None:
            raise ArgumentError(
                "class_weights",
                "class weights need mode='multiclass'; the binary and multilabel Lovasz hinge is one term over all channels",
            )

    def forward(self, y_pred: torch.Tensor, y_true: torch.Tensor) -> torch.Tensor:
        owner = f"LovaszLoss(mode={self.mode!r})"
        check_batch(owner, y_pred, y_true)
        check_values = self._check_values_now(y_true)
        if self.mode == MULTICLASS_MODE:
            return self._softmax(owner, y_pred, y_true, check_values)
        return self._hinge(owner, y_pred, y_true, check_values)

    def _softmax(self, owner: str, y_pred: torch.Tensor, y_true: torch.Tensor, check_values: bool) -> torch.Tensor:
        n, c = y_pred.shape[:2]
        if c < 2:
            raise ValueError(f"{owner}: needs at least 2 classes (channels); for one class use mode='binary'")
        labels, valid = class_indices(owner, y_pred, y_true, self.ignore_index, check_values)
        probs = (y_pred.softmax(1) if self.from_logits else y_pred).reshape(n, c, -1)
        with torch.no_grad():
            fg = labels.unsqueeze(1) == torch.arange(c, device=labels.device).view(1, c, 1)  # (N, C, P)
            if valid is not None:
                fg &= valid.unsqueeze(1)
            errors = torch.where(fg, 1.0 - probs, probs)
            if valid is not None:
                errors.masked_fill_(~valid.unsqueeze(1), 0.0)
            if self.per_image:  # a row per image and class
                errors, fg = errors.reshape(n * c, -1), fg.reshape(n * c, -1)
            else:  # a row per class, over the whole batch
                errors, fg = errors.transpose(0, 1).reshape(c, -1), fg.transpose(0, 1).reshape(c, -1)
            present = fg.any(1)
            increments = _increments(errors, fg, present)
            # error = p off the class and 1 - p on it: sum(error * g) = sum(p * (+-g)) + sum(g on it)
            on_class = (increments * fg).sum(1)
            signed = torch.where(fg, -increments, increments)
            if self.per_image:
                signed = signed.view(n, c, -1)
            else:
                signed = signed.view(c, n, -1).transpose(0, 1)
            if valid is not None:
                signed = signed.masked_fill(~valid.unsqueeze(1), 0.0)
        losses = (probs * signed).sum(2)  # (N, C)
        if not self.per_image:
            losses = losses.sum(0, keepdim=True)
        rows = losses.shape[0]
        losses = losses + on_class.view(rows, c)
        weights = class_weight_tensor("LovaszLoss", self.class_weights, c, losses)
        return weighted_mean(losses, present.view(rows, c), weights)

    def _hinge(self, owner: str, y_pred: torch.Tensor, y_true: torch.Tensor, check_values: bool) -> torch.Tensor:
        n = y_pred.shape[0]
        logits, target, valid = binary_pair(owner, self.mode, y_pred, y_true, self.ignore_index, check_values)
        if not self.from_logits:
            probs = logits.clamp(_PROBABILITY_FLOOR, 1 - _PROBABILITY_FLOOR)
            logits = torch.log(probs / (1 - probs))
        rows = n if self.per_image else 1
        logits, target = logits.reshape(rows, -1), target.reshape(rows, -1)
        errors = 1.0 - logits * (2.0 * target - 1.0)
        if valid is not None:
            valid = valid.reshape(rows, -1)
            errors = errors.masked_fill(~valid, 0.0)
        # only positive errors count: the others add nothing and sort after them in any order
        errors = torch.relu(errors)
        losses = (errors * _increments(errors.detach(), target)).sum(1)
        counted = torch.ones_like(losses, dtype=torch.bool) if valid is None else valid.any(1)
        return weighted_mean(losses.unsqueeze(1), counted.unsqueeze(1))
