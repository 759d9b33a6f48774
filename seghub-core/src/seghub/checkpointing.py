"""Activation (gradient) checkpointing for encoders and decoders.

Checkpointing drops a block's intermediate activations in the forward pass and recomputes them
in the backward pass: less memory for more compute, with the same outputs and gradients. It is
off by default and switched on per part by the spec (``encoder.checkpointing``,
``decoder.checkpointing``) or by :meth:`seghub.SegmentationModel.set_grad_checkpointing`.

An encoder or decoder opts in by implementing timm's convention,
``set_grad_checkpointing(enable: bool = True)``, and checkpointing its own stages or blocks;
:class:`GradCheckpointing` does the bookkeeping. A module without that method is checkpointed
as a whole by the model instead.

Checkpointing acts only when it can matter: in training mode with autograd on, and never while
tracing or exporting (``torch.export``, ONNX, TorchScript). Recomputation runs each block's
forward a second time; buffers that forward updates, such as batch-norm running statistics, are
restored afterwards, so they too end up exactly as without checkpointing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import torch
import torch.utils.checkpoint
from torch import nn

__all__ = ["GradCheckpointing", "checkpoint", "is_active"]

T = TypeVar("T")


def is_active(module: nn.Module) -> bool:
    """Whether checkpointing ``module`` would do anything now: it is training, autograd records,
    and nothing is tracing or exporting the model."""
    if not (module.training and torch.is_grad_enabled()):
        return False
    if torch.jit.is_scripting() or torch.jit.is_tracing():
        return False
    return not torch.compiler.is_exporting()


@contextlib.contextmanager
def _buffers_kept(owner: nn.Module | None) -> Iterator[None]:
    """Restore every buffer of ``owner`` on exit to its value on entry (around a recomputation)."""
    saved = [] if owner is None else [(b, b.detach().clone()) for b in owner.buffers()]
    try:
        yield
    finally:
        with torch.no_grad():
            for buffer, value in saved:
                buffer.copy_(value)


def _owner(function: Callable[..., Any]) -> nn.Module | None:
    if isinstance(function, nn.Module):
        return function
    bound = getattr(function, "__self__", None)
    return bound if isinstance(bound, nn.Module) else None


def checkpoint(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``function(*args, **kwargs)`` under non-reentrant activation checkpointing.

    When ``function`` is a module or a module's bound method, the module's buffers are restored
    after the backward pass recomputes it, so batch-norm running statistics are updated once,
    as without checkpointing. Under ``torch.compile`` the compiler plans recomputation itself and
    applies buffer updates once; the plain checkpoint is used there.
    """
    if torch.compiler.is_compiling():
        return torch.utils.checkpoint.checkpoint(function, *args, use_reentrant=False, **kwargs)
    owner = _owner(function)

    def contexts() -> tuple[contextlib.AbstractContextManager[None], contextlib.AbstractContextManager[None]]:
        return contextlib.nullcontext(), _buffers_kept(owner)

    return torch.utils.checkpoint.checkpoint(
        function, *args, use_reentrant=False, context_fn=contexts, **kwargs
    )


class GradCheckpointing:
    """Mixin for encoders and decoders (``nn.Module`` subclasses) that checkpoint their blocks.

    Gives ``set_grad_checkpointing(enable)`` and :meth:`checkpointed`, which runs one block
    checkpointed when checkpointing is on and :func:`is_active`, and plainly otherwise.
    """

    grad_checkpointing: bool = False

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        """Checkpoint each block in training (``True``) or never (``False``)."""
        self.grad_checkpointing = bool(enable)

    def checkpointed(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``function(*args, **kwargs)``, checkpointed when that is switched on and can matter."""
        if self.grad_checkpointing and is_active(self):  # type: ignore[arg-type]
            return checkpoint(function, *args, **kwargs)
        return function(*args, **kwargs)
