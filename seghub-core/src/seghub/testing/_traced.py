"""``torch.compile(fullgraph=True)`` and ``torch.export.export`` checks: each must work and
give what eager mode gives."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn
from torch.utils import _pytree as pytree

__all__ = ["compile_problem", "export_problem", "traced_problems"]

RTOL = 1e-3
ATOL = 1e-4


def _short(exc: BaseException, limit: int = 400) -> str:
    text = " ".join(str(exc).split())
    text = text if len(text) <= limit else text[:limit] + " ..."
    return f"{type(exc).__name__}: {text}"


def _mismatch(expected: Any, actual: Any) -> str | None:
    want, want_spec = pytree.tree_flatten(expected)
    got, got_spec = pytree.tree_flatten(actual)
    if want_spec != got_spec:
        return f"its output has structure {got_spec}, eager gives {want_spec}"
    for i, (a, b) in enumerate(zip(want, got)):
        if isinstance(a, torch.Tensor):
            try:
                torch.testing.assert_close(b, a, rtol=RTOL, atol=ATOL)
            except AssertionError as exc:
                return f"output {i} differs from eager mode: {_short(exc, 200)}"
    return None


def compile_problem(module: nn.Module, args: Sequence[Any], backend: str = "inductor") -> str | None:
    """None when ``torch.compile(module, fullgraph=True, backend=backend)`` runs ``args`` in eval
    mode and matches eager mode; else what went wrong."""
    module.eval()
    with torch.no_grad():
        expected = module(*args)
        torch._dynamo.reset()
        try:
            actual = torch.compile(module, fullgraph=True, backend=backend)(*args)
        except Exception as exc:  # graph breaks and backend failures alike
            return (
                f"torch.compile(fullgraph=True, backend={backend!r}) failed: {_short(exc)}; remove graph breaks "
                "(data-dependent Python control flow, .item()/.tolist(), unsupported calls) from forward"
            )
        finally:
            torch._dynamo.reset()
    mismatch = _mismatch(expected, actual)
    return None if mismatch is None else f"torch.compile(fullgraph=True, backend={backend!r}): {mismatch}"


def export_problem(module: nn.Module, args: Sequence[Any]) -> str | None:
    """None when ``torch.export.export(module, args)`` works in eval mode and its program
    matches eager mode; else what went wrong."""
    module.eval()
    with torch.no_grad():
        expected = module(*args)
    try:
        program = torch.export.export(module, tuple(args))
        with torch.no_grad():
            actual = program.module()(*args)
    except Exception as exc:
        return (
            f"torch.export.export failed: {_short(exc)}; forward must be traceable without data-dependent "
            "control flow or Python side effects"
        )
    mismatch = _mismatch(expected, actual)
    return None if mismatch is None else f"torch.export.export: {mismatch}"


def traced_problems(module: nn.Module, args: Sequence[Any], compile: bool | str, export: bool) -> list[str]:
    """What the compile check (``compile``: True for inductor, or a backend name) and the export
    check found for ``module`` on ``args``; empty when both passed or neither was asked for."""
    problems = []
    if compile:
        problems.append(compile_problem(module, args, "inductor" if compile is True else str(compile)))
    if export:
        problems.append(export_problem(module, args))
    return [problem for problem in problems if problem]
