"""``check_neck``: build a registered neck on several encoder layouts and check it against the contract."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import torch
from torch import nn

from .._protocols import check_encoder_output, check_neck_attributes
from ..errors import ProtocolError, SeghubError, SpecError
from ..plugins import NeckEntry, get_hub
from ._common import as_size, cannot_load, crash, dead_parameters, isolated
from ._import_light import HEAVY_MODULES, check_import_light
from ._report import ConformanceError, ConformanceReport
from ._traced import compile_problem, export_problem

__all__ = ["check_neck", "NECK_LAYOUTS"]

NECK_LAYOUTS: tuple[tuple[tuple[int, ...], tuple[int, ...]], ...] = (
    ((32,) * 4, (16,) * 4),  # a plain ViT, patch 16
    ((32,) * 4, (14,) * 4),  # a plain ViT, patch 14
    ((8, 16, 24, 32), (4, 8, 16, 32)),  # a pyramid
    ((8, 16, 24, 32, 48), (2, 4, 8, 16, 32)),  # a CNN
)
"""Encoder layouts (channels, reductions) ``check_neck`` builds a neck on by default."""


def _label(channels: Sequence[int], reductions: Sequence[int]) -> str:
    return f"[encoder channels={tuple(channels)}, reductions={tuple(reductions)}]"


def _input_side(reductions: Iterable[int], at_least: int) -> int:
    """The smallest multiple of every reduction that is at least ``at_least``."""
    step = math.lcm(*reductions)
    return step * max(1, math.ceil(at_least / step))


class _NeckCheck:
    def __init__(self, entry: NeckEntry, params: dict[str, Any], report: ConformanceReport, min_size: int,
                 batch_size: int) -> None:
        self.entry, self.params, self.report = entry, params, report
        self.min_size, self.batch_size = min_size, batch_size

    def build(self, channels: tuple[int, ...], reductions: tuple[int, ...]) -> nn.Module | None:
        label = _label(channels, reductions)
        try:
            neck = self.entry.create(encoder_channels=channels, encoder_reductions=reductions, params=self.params)
        except SpecError as exc:
            if isinstance(exc.__cause__, ValueError):
                self.report.refusal(f"{label}: {exc.__cause__}")
            else:
                self.report.problem(f"{label}: the factory raised {crash(exc.__cause__ or exc)}; refuse layouts "
                                    "you cannot take with ValueError naming the mismatch")
            return None
        except Exception as exc:
            self.report.problem(f"{label}: the factory raised {crash(exc)}")
            return None
        try:
            check_neck_attributes(neck)
        except ProtocolError as exc:
            self.report.problem(f"{label}: {exc}")
            return None
        return neck

    def run(self, neck: nn.Module, channels: tuple[int, ...], reductions: tuple[int, ...], backward: bool) -> Any:
        """Forward features of an input every reduction divides; returns them when all is well."""
        label = _label(channels, reductions)
        side = _input_side((*reductions, *neck.reductions), self.min_size)
        x = torch.empty(self.batch_size, 3, side, side)
        features = [torch.randn(self.batch_size, c, -(-side // r), -(-side // r), requires_grad=True)
                    for c, r in zip(channels, reductions)]
        neck.train()
        try:
            out = neck(features)
            check_encoder_output(neck, x, out, kind="neck")
        except ProtocolError as exc:
            self.report.problem(f"{label}: {exc}; declare the out_channels and reductions forward really gives")
            return None
        except Exception as exc:
            self.report.problem(f"{label}: forward on features of a {side}x{side} input raised {crash(exc)}")
            return None
        if backward:
            sum(o.float().mean() for o in out).backward()
            dead = dead_parameters(neck)
            if dead:
                self.report.problem(f"{label}: no gradient reaches {dead}; build only the layers forward uses")
                return None
        self.report.checked.append(label)
        return [f.detach() for f in features]


def check_neck(
    name: str,
    *,
    params: Mapping[str, Any] | None = None,
    provider: str | None = None,
    layouts: Iterable[tuple[Sequence[int], Sequence[int]]] = NECK_LAYOUTS,
    input_size: int = 64,
    batch_size: int = 2,
    backward: bool = True,
    compile: bool | str = False,
    export: bool = False,
    import_light: bool = True,
    heavy_modules: Sequence[str] = HEAVY_MODULES,
) -> ConformanceReport:
    """Check the installed neck ``name`` against seghub's neck contract.

    For each encoder layout ``(channels, reductions)`` (default :data:`NECK_LAYOUTS`: a patch-16
    and a patch-14 ViT, a pyramid, a CNN), the neck is built through its registry entry (params
    validated as ``build_model`` does) and must refuse cleanly (``ValueError``) or declare
    ``out_channels`` and ``reductions`` that its forward really gives for features of an input
    of at least ``input_size`` that every reduction divides; a backward pass must reach every
    parameter. One layout must build. ``compile``, ``export`` and
    ``import_light`` as in :func:`check_encoder`, on the first layout built.

    Returns the :class:`ConformanceReport`; raises :class:`ConformanceError` listing every problem.
    """
    report = ConformanceReport(f"neck {name!r}")
    try:
        entry = get_hub().neck(name, provider)
        entry.load_factory()
    except SeghubError as exc:
        raise ConformanceError(report.subject, [cannot_load(exc)]) from exc
    try:
        options = entry.validate_params(params or {})
    except SpecError as exc:
        raise ConformanceError(report.subject, [f"the params given to the check do not validate: {exc}"]) from exc
    check = _NeckCheck(entry, options, report, as_size(input_size)[0], batch_size)
    traced = False
    with isolated():
        for channels, reductions in layouts:
            layout = (tuple(int(c) for c in channels), tuple(int(r) for r in reductions))
            neck = check.build(*layout)
            inputs = None if neck is None else check.run(neck, *layout, backward=backward)
            if inputs is not None and not traced and (compile or export):
                traced = True
                problems = []
                if compile:
                    problems.append(compile_problem(neck, (inputs,), "inductor" if compile is True else str(compile)))
                if export:
                    problems.append(export_problem(neck, (inputs,)))
                for problem in filter(None, problems):
                    report.problem(f"{_label(*layout)}: {problem}")
        if not report.checked and not report.problems:
            report.problem("every layout was refused; at least one must build")
    if import_light:
        check_import_light(report, entry.plugin, heavy_modules)
    report.raise_if_failed()
    return report
