"""Plugin registration, import weight (no torch, no torchvision) and the params model."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pydantic
import pytest

import seghub
import seghub_encoders_resnet
from seghub_encoders_resnet import ENCODER_NAMES, WEIGHTS, ResNetParams, build_encoder
from seghub_encoders_resnet import plugin

EXPECTED_NAMES = (
    "resnet18 resnet34 resnet50 resnet101 resnet152 resnext50_32x4d resnext101_32x4d "
    "resnext101_32x8d resnext101_32x16d resnext101_32x32d resnext101_32x48d"
).split()

PACKAGE_DIR = Path(seghub_encoders_resnet.__file__).parent


def test_plugin_imports_no_torch_and_building_imports_no_torchvision() -> None:
    script = textwrap.dedent(
        """
        import sys
        import seghub
        import seghub_encoders_resnet.plugin as plugin
        assert "torch" not in sys.modules, "the plugin module imported torch"
        registry = seghub.Registry()
        plugin.seghub_register_encoders(registry)
        for entry in registry.encoders:
            entry.weights_table()
            entry.load_params_model()
        assert "torch" not in sys.modules, "registration, weights tables or params imported torch"
        import torch
        encoder = registry.encoders[0].load_factory()(
            name="resnet18", in_channels=3, depth=5, output_stride=8, weights=None)
        encoder(torch.zeros(1, 3, 32, 32))
        assert "torchvision" not in sys.modules, "building an encoder imported torchvision"
        print("ok")
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_no_module_of_the_package_imports_torchvision() -> None:
    sources = sorted(PACKAGE_DIR.glob("*.py"))
    assert len(sources) >= 6
    for source in sources:
        tree = ast.parse(source.read_text(), filename=str(source))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                modules = [node.module or ""]
            else:
                continue
            assert not any(m.split(".")[0] == "torchvision" for m in modules), source.name


def test_hook_registers_the_eleven_names() -> None:
    registry = seghub.Registry()
    plugin.seghub_register_encoders(registry)
    assert [entry.name for entry in registry.encoders] == EXPECTED_NAMES
    assert list(ENCODER_NAMES) == EXPECTED_NAMES
    assert registry.families == [] and registry.decoders == []
    for entry in registry.encoders:
        assert isinstance(entry.factory, str) and entry.factory.endswith("_factory:build_encoder")
        assert entry.load_factory() is build_encoder
        assert entry.load_params_model() is ResNetParams
        assert entry.weights_table() == WEIGHTS[entry.name]
        assert entry.description
    assert plugin.SEGHUB_PLUGIN_API == seghub.PLUGIN_API_VERSION


def test_hook_is_a_pluggy_hook_implementation() -> None:
    import pluggy

    from seghub.plugins.hookspecs import PROJECT_NAME

    manager = pluggy.PluginManager(PROJECT_NAME)
    import seghub.plugins.hookspecs as specs

    manager.add_hookspecs(specs)
    manager.register(plugin)
    registry = seghub.Registry()
    manager.hook.seghub_register_encoders(registry=registry)
    assert len(registry.encoders) == 11


def test_entry_point_is_declared() -> None:
    from importlib.metadata import entry_points

    found = [ep for ep in entry_points(group="seghub") if ep.value == "seghub_encoders_resnet.plugin"]
    assert [ep.name for ep in found] == ["resnet"]


def test_params_model_refuses_unknown_keys() -> None:
    assert ResNetParams.model_validate({}).model_dump() == {}
    with pytest.raises(pydantic.ValidationError, match="pretrained"):
        ResNetParams.model_validate({"pretrained": True})


def test_unknown_params_are_refused() -> None:
    """seghub validates encoder.params with ResNetParams before the factory (which takes none)."""
    import seghub

    with pytest.raises(seghub.SpecError, match=r"encoder\.params\.norm_layer: unknown key"):
        seghub.build_model({"encoder": {"name": "resnet18", "params": {"norm_layer": "gn"}}, "decoder": {"name": "unet"}})
    with pytest.raises(TypeError, match="norm_layer"):
        build_encoder(name="resnet18", norm_layer="gn")


def test_seghub_conformance_kit_passes() -> None:
    """The core's plugin-author kit, through the installed entry point (torch.export included)."""
    from seghub.testing import check_encoder

    report = check_encoder(
        "resnet18", depths=(2, 5), in_channels=(1,), output_strides=(8,), input_size=32, export=True,
        import_light=False,  # done above, with torchvision too
    )
    assert not report.problems
    assert len(report.checked) >= 4
