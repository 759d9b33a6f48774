"""Registration of the timm family: names, aliases, listing, suggestions, light imports."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from seghub import Registry
from seghub.errors import UnknownNameError
from seghub_encoders_timm import plugin


@pytest.fixture(scope="module")
def family():
    registry = Registry()
    plugin.seghub_register_encoders(registry)
    assert not registry.encoders and not registry.decoders
    (fam,) = registry.families
    return fam


def test_family_prefix_and_alias(family) -> None:
    assert family.prefix == "timm:" and family.aliases == ("tu-",)
    assert family.split("tu-resnet34") == "resnet34"
    assert family.split("timm:convnext_tiny.fb_in1k") == "convnext_tiny.fb_in1k"
    assert family.split("resnet34") is None
    entry = family.entry("tu-test_resnet")
    assert entry.name == "timm:test_resnet"
    assert callable(entry.load_factory())
    assert entry.load_params_model().__name__ == "TimmParams"


def test_listing_draws_on_timm(family) -> None:
    names = family.names("test_*")
    assert {"timm:test_resnet", "timm:test_vit", "timm:test_convnext"} <= set(names)
    assert len(family.names()) > 500


def test_unknown_model_suggests(family) -> None:
    with pytest.raises(UnknownNameError, match=r"Did you mean .*'timm:resnet34'"):
        family.entry("timm:resnet35")
    with pytest.raises(UnknownNameError, match="no pretrained tag 'fb_in2k'.*Did you mean 'timm:convnext_tiny.fb_in22k'"):
        family.entry("tu-convnext_tiny.fb_in2k")
    assert family.entry("timm:convnext_tiny.fb_in1k").name == "timm:convnext_tiny.fb_in1k"


def test_params_model() -> None:
    from pydantic import ValidationError

    from seghub_encoders_timm._params import TimmParams

    params = TimmParams.model_validate({"drop_path_rate": 0.1, "output_indices": [1, 3]})
    assert params.model_dump() == {"output_indices": [1, 3], "drop_path_rate": 0.1}
    with pytest.raises(ValidationError, match="'in_chans' \\(set encoder.in_channels instead\\)"):
        TimmParams.model_validate({"in_chans": 1})


def test_plugin_module_imports_no_timm_or_torch() -> None:
    code = textwrap.dedent(
        """
        import sys
        from seghub import Registry
        from seghub_encoders_timm import plugin
        registry = Registry()
        plugin.seghub_register_encoders(registry)
        assert "torch" not in sys.modules and "timm" not in sys.modules, "heavy import at registration"
        from seghub_encoders_timm import _params
        assert "torch" not in sys.modules and "timm" not in sys.modules, "params model imports heavy modules"
        assert "timm:test_vit" in registry.families[0].names("test_vit")
        assert "timm" in sys.modules
        """
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
