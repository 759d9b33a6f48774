"""Losses that compute value and gradient in one pass over pieces of (N, C, P) logits: the
focal loss (and binary cross-entropy, its ``gamma=0``) here, the smoothed cross-entropy in
``cross_entropy``. On the CPU a piece's temporaries (a few MiB) stay in the processor's cache,
and pieces are few enough that PyTorch's per-operation overhead stays small; the gradient is
written straight into its place in the saved gradient tensor."""

from __future__ import annotations

import torch

CHUNK = 1 << 18  # elements per piece on the CPU


def chunks(logits: torch.Tensor, size: int | None = None) -> list[tuple[int, slice]]:
    """(image, pixel range) pieces of (N, C, P) logits: about ``size`` (default ``CHUNK``)
    elements on the CPU; whole images elsewhere, where each piece costs kernel launches rather
    than memory traffic."""
    n, c, p = logits.shape
    step = max(1, (size or CHUNK) // c) if logits.device.type == "cpu" else p
    return [(i, slice(start, min(start + step, p))) for i in range(n) for start in range(0, p, step)]


def _chunk_target(
    target: torch.Tensor | None, labels: torch.Tensor | None, i: int, cols: slice, like: torch.Tensor
) -> torch.Tensor:
    if labels is None:
        return target[i, :, cols]
    classes = torch.arange(like.shape[0], device=like.device).view(-1, 1)
    return (labels[i, cols].unsqueeze(0) == classes).to(like.dtype)


def _bce(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy of logits ``x`` and targets ``t``: ``max(x, 0) - x t + log(1 +
    exp(-|x|))``, as torch's but with ``log`` instead of ``log1p``, which PyTorch vectorizes
    (several times faster on the CPU); they differ by less than 1e-7 where ``exp(-|x|) < 1e-7``."""
    return x.abs().neg_().exp_().add_(1.0).log_().add_(x.clamp_min(0)).sub_(x * t)


class FocalSums(torch.autograd.Function):
    """Per-class sums of the focal loss of (N, C, P) logits.

    With ``gamma=0`` and no ``alpha``, binary cross-entropy. Computed in pieces, each small
    enough to stay in the CPU's cache, from formulas: the
    forward pass also writes the gradient of each element (one (N, C, P) tensor, where autograd
    would keep a dozen), so the backward pass is one multiplication. Targets come as (N, C, P)
    floats or, in multiclass mode, as (N, P) labels (no one-hot tensor); ``valid`` is
    (N, 1 or C, P) bool or None; ``autograd`` says whether a gradient will be wanted.
    """

    @staticmethod
    def forward(ctx, logits, target, labels, valid, gamma, alpha, autograd):  # type: ignore[override]
        total = logits.new_zeros(logits.shape[1])
        grad = torch.empty_like(logits) if autograd else None
        for i, cols in chunks(logits):
            x = logits[i, :, cols]
            t = _chunk_target(target, labels, i, cols, x)
            bce = _bce(x, t)
            if gamma != 0:
                p_t = torch.exp(-bce)
                q = 1.0 - p_t
            loss = torch.pow(q, gamma).mul_(bce) if gamma != 0 else bce.clone()
            weight = None if alpha is None else t * (2 * alpha - 1) + (1 - alpha)
            if weight is not None:
                loss.mul_(weight)
            if valid is not None:
                loss.mul_(valid[i, :, cols])
            total += loss.sum(1)
            if grad is None:
                continue
            # d/dx [q^g bce] = (sigmoid(x) - t) q^(g-1) (q + g p_t bce), written in place
            chunk = torch.sigmoid(x, out=grad[i, :, cols]).sub_(t)
            if gamma != 0:
                chunk.mul_(torch.pow(q, gamma - 1).mul_(p_t.mul_(bce).mul_(gamma).add_(q)))
            if weight is not None:
                chunk.mul_(weight)
            if valid is not None:
                chunk.mul_(valid[i, :, cols])
        ctx.save_for_backward(grad)
        return total

    @staticmethod
    @torch.autograd.function.once_differentiable  # the saved gradient is not a function of the logits
    def backward(ctx, grad_total):  # type: ignore[override]
        (grad,) = ctx.saved_tensors
        return grad * grad_total.view(1, -1, 1), None, None, None, None, None, None
