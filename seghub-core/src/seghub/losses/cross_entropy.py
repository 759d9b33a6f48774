"""Cross-entropy losses with label smoothing and ``ignore_index``: smp 0.6's
``SoftBCEWithLogitsLoss`` (drop-in for ``torch.nn.BCEWithLogitsLoss``) and
``SoftCrossEntropyLoss`` (for ``torch.nn.CrossEntropyLoss``).

Both are pixel losses: one term per pixel (and channel, for BCE); ignored pixels have no term,
and ``reduction="mean"`` divides by the number of non-ignored terms, or with ``class_weights``
by the sum of their weights, as ``torch.nn.CrossEntropyLoss(weight=...)`` does. A batch whose
every pixel is ignored gives 0 with a zero gradient, not 0/0.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ._base import Loss
from ._fused import FocalSums, chunks
from ._params import ClassWeights, FloatTensor, Fraction, Reduction
from ._reduce import safe_divide
from ._targets import binary_valid, class_indices, class_weight_tensor, shape_text

__all__ = ["SoftBCEWithLogitsLoss", "SoftCrossEntropyLoss"]


class SoftBCEWithLogitsLoss(Loss):
    """Binary cross-entropy on logits with ``ignore_index`` and label smoothing; smp 0.6's arguments.

    y_pred: logits of any shape (N, C, ...); y_true: the same shape, or (N, ...) when C is 1,
    with values in [0, 1] or ``ignore_index``.

    Args:
        weight: torch's per-element weight (broadcast against y_pred; not part of the mean's
            denominator, as in torch).
        ignore_index: Target value of elements that count nowhere.
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (the per-element losses, 0 where ignored).
        smooth_factor: Targets become ``t (1 - s) + (1 - t) s``.
        pos_weight: torch's weight of positive targets (broadcast against y_pred).
        class_weights: One weight per channel (dim 1): scales the channel's terms, and
            ``"mean"`` divides by the sum of the weights of the terms counted.
    """

    def __init__(
        self,
        weight: FloatTensor = None,
        ignore_index: int | None = -100,
        reduction: Reduction = "mean",
        smooth_factor: Fraction | None = None,
        pos_weight: FloatTensor = None,
        *,
        class_weights: ClassWeights = None,
    ) -> None:
        super().__init__()
        values = self._accept(locals())
        self.ignore_index = values.ignore_index
        self.reduction = values.reduction
        self.smooth_factor = values.smooth_factor
        # persistent, as in smp, so state dicts match
        self.register_buffer("weight", values.weight)
        self.register_buffer("pos_weight", values.pos_weight)
        weights = None if values.class_weights is None else torch.tensor(values.class_weights, dtype=torch.float32)
        self.register_buffer("class_weights", weights, persistent=False)

    def forward(self, y_pred: torch.Tensor, y_true: torch.Tensor) -> torch.Tensor:
        owner = "SoftBCEWithLogitsLoss"
        if y_true.shape != y_pred.shape:
            if y_pred.dim() >= 2 and y_pred.shape[1] == 1 and y_true.shape == y_pred.shape[:1] + y_pred.shape[2:]:
                y_true = y_true.unsqueeze(1)
            else:
                raise ValueError(f"{owner}: y_true must have y_pred's shape {shape_text(y_pred.shape)}; got {shape_text(y_true.shape)}")
        valid = binary_valid(owner, y_true, self.ignore_index, self._check_values_now(y_true))
        target = y_true.to(y_pred.dtype)
        if self.smooth_factor is not None:  # t (1 - s) + (1 - t) s
            target = target * (1 - 2 * self.smooth_factor) + self.smooth_factor
        channel_weights = None
        if self.class_weights is not None:
            if y_pred.dim() < 2:
                raise ValueError(
                    f"{owner}: class_weights need a channel dimension (N, C, ...); got {shape_text(y_pred.shape)}"
                )
            channel_weights = class_weight_tensor(owner, self.class_weights, y_pred.shape[1], y_pred)
        if self.reduction == "none" or self.weight is not None or self.pos_weight is not None or y_pred.dim() < 2:
            loss = self._elementwise(y_pred, target, valid, channel_weights)
            if self.reduction == "none":
                return loss
            total = loss.sum()
        else:  # the focal loss's fused pass with gamma 0 is this cross-entropy, per channel
            n, c = y_pred.shape[:2]
            flat_valid = None if valid is None else valid.reshape(n, c, -1)
            autograd = torch.is_grad_enabled() and y_pred.requires_grad
            per_channel = FocalSums.apply(
                y_pred.reshape(n, c, -1), target.reshape(n, c, -1), None, flat_valid, 0.0, None, autograd
            )
            total = per_channel.sum() if channel_weights is None else (per_channel * channel_weights).sum()
        if self.reduction == "sum":
            return total
        # the mean over the counted terms, each counted with its channel's weight
        if valid is None:
            count = y_pred.new_tensor(y_pred.numel())
            if channel_weights is not None:
                count = channel_weights.sum() * (y_pred.numel() // y_pred.shape[1])
        elif channel_weights is None:
            count = valid.sum().to(total.dtype)
        else:
            per_channel = valid.sum([dim for dim in range(valid.dim()) if dim != 1]).to(total.dtype)
            count = (per_channel * channel_weights).sum()
        return safe_divide(total, count)

    def _elementwise(
        self, y_pred: torch.Tensor, target: torch.Tensor, valid: torch.Tensor | None, channel_weights: torch.Tensor | None
    ) -> torch.Tensor:
        """torch's per-element loss with ``weight`` and ``pos_weight``; ignored entries get weight
        0 (their target, ignore_index itself, gives a finite loss)."""
        weight = self.weight
        if valid is not None:
            weight = valid.to(y_pred.dtype) if weight is None else weight * valid
        if channel_weights is not None:
            channel_weights = channel_weights.view((1, -1) + (1,) * (y_pred.dim() - 2))
            weight = channel_weights if weight is None else weight * channel_weights
        return F.binary_cross_entropy_with_logits(y_pred, target, weight, pos_weight=self.pos_weight, reduction="none")


class _SmoothedCrossEntropy(torch.autograd.Function):
    """Per-pixel cross-entropy of (N, C, P) logits and (N, P) labels, with label smoothing and
    class weights as torch defines them, 0 where not ``valid``.

    ``loss = (1 - s) w_y (lse - x_y) + s / C * sum_c w_c (lse - x_c)``, with ``lse`` the
    log-sum-exp of the logits: value and gradient in one pass over cache-sized pieces, as the
    focal loss does, instead of a log-softmax and its gradient through memory (the gradient
    only when ``autograd`` says it will be wanted)."""

    @staticmethod
    def forward(ctx, logits, labels, valid, smoothing, weights, autograd):  # type: ignore[override]
        n, c, p = logits.shape
        out = logits.new_empty(n, p)
        grad = torch.empty_like(logits) if autograd else None
        spread = smoothing / c
        weight_sum = c if weights is None else weights.sum()
        column = None if weights is None else weights.view(c, 1)
        for i, cols in chunks(logits):
            x = logits[i, :, cols]
            y = labels[i, cols].unsqueeze(0)
            top = x.amax(0, keepdim=True)
            exp = (x - top).exp_()
            total = exp.sum(0, keepdim=True)
            lse = total.log().add_(top)
            on_label = (1 - smoothing) if weights is None else (1 - smoothing) * weights[y]
            loss = (lse - x.gather(0, y)).mul_(on_label)
            if smoothing:
                spread_sum = x.sum(0, keepdim=True) if column is None else (x * column).sum(0, keepdim=True)
                loss.add_((weight_sum * lse - spread_sum).mul_(spread))
            if valid is not None:
                loss.mul_(valid[i, cols])
            out[i, cols] = loss[0]
            if grad is None:
                continue
            # softmax * ((1 - s) w_y + s / C sum(w)) - s / C w_c - (1 - s) w_y [c == y], in place
            chunk = torch.div(exp, total, out=grad[i, :, cols])
            if weights is not None:  # without, the factor is (1 - s) + s
                chunk.mul_(on_label + spread * weight_sum)
            if smoothing:
                chunk.sub_(spread if column is None else spread * column)
            chunk.scatter_add_(0, y, torch.full_like(lse, -(1 - smoothing)) if weights is None else -on_label)
            if valid is not None:
                chunk.mul_(valid[i, cols])
        ctx.save_for_backward(grad)
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable  # the saved gradient is not a function of the logits
    def backward(ctx, grad_out):  # type: ignore[override]
        (grad,) = ctx.saved_tensors
        return grad * grad_out.unsqueeze(1), None, None, None, None, None


class SoftCrossEntropyLoss(Loss):
    """Cross-entropy with label smoothing and ``ignore_index``; smp 0.6's arguments.

    y_pred: logits (N, C, ...) with the classes along ``dim``; y_true: class indices, the shape
    of y_pred without ``dim`` (or with it of size 1).

    Args:
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (per pixel, 0 where ignored).
        smooth_factor: Label smoothing: the target puts ``1 - s`` on its class and ``s``
            spread evenly over all classes (torch's ``label_smoothing``).
        ignore_index: Target value of pixels that count nowhere.
        dim: The class dimension of y_pred.
        class_weights: One weight per class, as torch's ``CrossEntropyLoss(weight=...)``.
    """

    def __init__(
        self,
        reduction: Reduction = "mean",
        smooth_factor: Fraction | None = None,
        ignore_index: int | None = -100,
        dim: int = 1,
        *,
        class_weights: ClassWeights = None,
    ) -> None:
        super().__init__()
        values = self._accept(locals())
        self.reduction = values.reduction
        self.smooth_factor = values.smooth_factor
        self.ignore_index = values.ignore_index
        self.dim = values.dim
        weights = None if values.class_weights is None else torch.tensor(values.class_weights, dtype=torch.float32)
        self.register_buffer("class_weights", weights, persistent=False)

    def forward(self, y_pred: torch.Tensor, y_true: torch.Tensor) -> torch.Tensor:
        owner = "SoftCrossEntropyLoss"
        if not -y_pred.dim() <= self.dim < y_pred.dim():
            raise ValueError(f"{owner}: dim={self.dim} is not a dimension of y_pred of shape {shape_text(y_pred.shape)}")
        if y_pred.dim() < 2:
            raise ValueError(f"{owner}: y_pred must have a batch and a class dimension; got {shape_text(y_pred.shape)}")
        dim = self.dim % y_pred.dim()
        if dim != 1:  # the classes go along dim 1
            y_pred = y_pred.movedim(dim, 1)
            y_true = y_true.movedim(dim, 1) if y_true.dim() == y_pred.dim() else y_true
        check = self._check_values_now(y_true)
        labels, valid = class_indices(owner, y_pred, y_true, self.ignore_index, check)
        n, classes = y_pred.shape[:2]
        weights = class_weight_tensor(owner, self.class_weights, classes, y_pred)
        autograd = torch.is_grad_enabled() and y_pred.requires_grad
        loss = _SmoothedCrossEntropy.apply(
            y_pred.reshape(n, classes, -1), labels, valid, self.smooth_factor or 0.0, weights, autograd
        )
        if self.reduction == "none":
            return loss.reshape(y_pred.shape[:1] + y_pred.shape[2:])
        total = loss.sum()
        if self.reduction == "sum":
            return total
        # the mean over the counted pixels, each counted with its class's weight (torch's rule)
        if weights is None:
            count = loss.new_tensor(labels.numel()) if valid is None else valid.sum().to(loss.dtype)
        else:
            counted = weights[labels]
            count = (counted if valid is None else counted * valid).sum()
        return safe_divide(total, count)
