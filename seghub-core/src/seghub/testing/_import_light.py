"""The import-lightness check: loading a plugin must import no torch, timm or torchvision."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence

import importlib_metadata

from ..plugins import ENTRY_POINT_GROUP, PluginInfo
from ._report import ConformanceReport

__all__ = ["HEAVY_MODULES", "plugin_module", "heavy_imports", "check_import_light"]

HEAVY_MODULES: tuple[str, ...] = ("torch", "timm", "torchvision")
"""Modules a plugin's entry-point module must not import (directly or through its hooks)."""

_PROBE = """
import importlib, json, sys
from seghub import Registry
module = importlib.import_module(sys.argv[1])
registry = Registry()
for hook in ("seghub_register_encoders", "seghub_register_decoders", "seghub_register_necks"):
    if hasattr(module, hook):
        getattr(module, hook)(registry=registry)
print(json.dumps(sorted(name for name in sys.argv[2].split(",") if name in sys.modules)))
"""


def plugin_module(plugin: PluginInfo) -> str | None:
    """The module an installed plugin's entry point names; None for plugins registered in-process."""
    if plugin.in_process:
        return None
    for entry_point in importlib_metadata.entry_points(group=ENTRY_POINT_GROUP, name=plugin.name):
        return entry_point.value.partition(":")[0]
    return None


def heavy_imports(module: str, heavy: Sequence[str] = HEAVY_MODULES) -> list[str]:
    """Import ``module`` in a fresh interpreter, run its registration hooks, and return which
    of ``heavy`` got imported. Raises ``RuntimeError`` when the module cannot be loaded."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, module, ",".join(heavy)],
        capture_output=True, text=True, env=env, timeout=120,
    )
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"loading {module!r} and running its hooks failed in a fresh interpreter: {last}")
    return list(json.loads(result.stdout.strip().splitlines()[-1]))


def check_import_light(report: ConformanceReport, plugin: PluginInfo, heavy: Sequence[str] = HEAVY_MODULES) -> None:
    """Record in ``report`` whether loading ``plugin`` imports any of ``heavy``."""
    module = plugin_module(plugin)
    if module is None:
        report.skipped.append(f"import lightness: plugin {plugin.label!r} was registered in-process, not by an entry point")
        return
    try:
        found = heavy_imports(module, heavy)
    except RuntimeError as exc:
        report.problem(str(exc))
        return
    if found:
        report.problem(
            f"loading the plugin module {module!r} (entry point of {plugin.label}) and running its hooks "
            f"imports {', '.join(found)}; import them only in the modules the registered 'module:attr' "
            "factories name, never in the plugin module or in modules it imports"
        )
