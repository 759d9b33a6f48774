"""`import seghub` stays light: no torch, no timm, no plugin loading."""

from __future__ import annotations

import subprocess
import sys

CHECK = """
import sys, seghub
heavy = sorted(m for m in ("torch", "timm", "pydantic", "huggingface_hub") if m in sys.modules)
plugins = sorted(m for m in sys.modules if m.endswith(".plugin") and m.startswith("seghub_"))
print(heavy, plugins)
"""


def test_import_seghub_loads_nothing_heavy():
    result = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[] []"


def test_lazy_attributes_resolve():
    import seghub

    assert seghub.build_model.__module__ == "seghub._model"
    assert "SegmentationModel" in dir(seghub)
    try:
        seghub.no_such_thing  # noqa: B018
    except AttributeError as exc:
        assert "no_such_thing" in str(exc)
    else:
        raise AssertionError("unknown attribute resolved")
