from __future__ import annotations

import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import seghub
from toy_plugins import ToyPlugin


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[seghub.plugins.PluginHub]:
    """A freshly discovering hub, restored afterwards."""
    monkeypatch.delenv("SEGHUB_STRICT_PLUGINS", raising=False)
    monkeypatch.delenv("SEGHUB_DISABLE_PLUGINS", raising=False)
    the_hub = seghub.get_hub()
    the_hub.reload()
    yield the_hub
    the_hub.reload()


@pytest.fixture
def toy(hub: seghub.plugins.PluginHub) -> Iterator[seghub.plugins.PluginHub]:
    """The hub with the toy plugin registered in-process."""
    hub.register(ToyPlugin(), "toy")
    yield hub


FakeDist = Callable[..., Path]


@pytest.fixture
def fake_dist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hub: seghub.plugins.PluginHub) -> FakeDist:
    """Install a fake distribution (``*.dist-info`` with a ``seghub`` entry point) on sys.path."""
    def make(dist: str, entry_point: str, module: str, source: str, version: str = "1.2.3") -> Path:
        # one folder per distribution: importlib.metadata caches folder listings by mtime
        site = tmp_path / f"site-{dist}"
        site.mkdir()
        info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
        (info / "entry_points.txt").write_text(f"[seghub]\n{entry_point} = {module}\n")
        (site / f"{module}.py").write_text(textwrap.dedent(source))
        monkeypatch.syspath_prepend(str(site))
        monkeypatch.delitem(sys.modules, module, raising=False)  # and restored (absent) after the test
        hub.reload()
        return site

    return make
