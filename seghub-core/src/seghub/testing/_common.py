"""Helpers the encoder and decoder checks share."""

from __future__ import annotations

import contextlib
import traceback
from collections.abc import Iterator

import torch
from torch import nn

__all__ = ["Size", "as_size", "cannot_load", "crash", "dead_parameters", "isolated"]

Size = int | tuple[int, int]


def as_size(size: Size) -> tuple[int, int]:
    """``(height, width)`` from an int or a pair."""
    if isinstance(size, int):
        return (size, size)
    height, width = size
    return (int(height), int(width))


def crash(exc: BaseException) -> str:
    """``TypeError: ... (at file.py:12 in fn)``: the exception and where it was raised."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (at {frames[-1].filename}:{frames[-1].lineno} in {frames[-1].name})" if frames else ""
    return f"{type(exc).__name__}: {exc}{where}"


def cannot_load(exc: BaseException) -> str:
    """The problem line for a name the hub cannot resolve or a factory that does not import."""
    return (
        f"cannot load it: {str(exc).rstrip('.')}. Is its distribution installed with an entry point in the "
        "`seghub` group, and do its 'module:attr' references import?"
    )


def dead_parameters(module: nn.Module, limit: int = 5) -> str | None:
    """After a backward pass: the trainable parameters that got no gradient, or None."""
    dead = [name for name, p in module.named_parameters() if p.requires_grad and p.grad is None]
    if not dead:
        return None
    more = f" and {len(dead) - limit} more" if len(dead) > limit else ""
    return ", ".join(dead[:limit]) + more


@contextlib.contextmanager
def isolated(seed: int = 0) -> Iterator[None]:
    """Seed torch's generators and run single-threaded inside the block; restore both after it.

    The checks' inputs are tiny: one thread runs them fastest, and keeps their time steady on
    machines whose cores are busy with other work.
    """
    threads = torch.get_num_threads()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        torch.set_num_threads(1)
        try:
            yield
        finally:
            torch.set_num_threads(threads)
