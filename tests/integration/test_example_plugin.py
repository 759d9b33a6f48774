"""The example third-party plugin, installed from its wheel, next to seghub's own packages.

Run by ``nox -s tests`` (and ``nox -s example_plugin``) after the suite, once the wheel is built and
installed; skipped in the suite's own run, which sees only seghub's plugins.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

import seghub

example = pytest.importorskip(
    "seghub_example_encoder", reason="the example plugin is not installed (nox -s tests installs it after the suite)"
)

REPO = Path(__file__).resolve().parents[2]


def _seghub(*args: str) -> str:
    """Run the ``seghub`` console script installed next to this interpreter."""
    script = Path(sys.executable).with_name("seghub")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "seghub"]
    return subprocess.run([*command, *args], capture_output=True, text=True, check=True).stdout


def test_installed_from_the_wheel_not_the_source_tree():
    assert REPO / "examples" not in Path(example.__file__).resolve().parents


def test_cli_lists_the_plugin_and_its_names():
    rows = [line.split() for line in _seghub("plugins").splitlines()]
    assert ["example", "seghub-example-encoder", "0.1.0", "ok"] in rows
    assert "mobilenet_lite" in _seghub("encoders", "mobilenet*")
    assert "skipadd" in _seghub("decoders")


@pytest.mark.parametrize("decoder", ["unet", "fpn", "deeplabv3plus", "segformer", "upernet", "skipadd"])
def test_example_encoder_under_seghub_decoders(decoder):
    model = seghub.build_model({
        "encoder": {"name": "mobilenet_lite", "params": {"width_multiplier": 0.5}},
        "decoder": {"name": decoder},
        "segmentation_head": {"classes": 2},
    })
    assert model.predict(torch.zeros(1, 3, 64, 64)).shape == (1, 2, 64, 64)
    assert model.spec.encoder.name == "mobilenet_lite"


def test_example_decoder_under_resnet_encoder():
    model = seghub.build_model({"encoder": {"name": "resnet18", "output_stride": 16}, "decoder": {"name": "skipadd"}})
    assert model.decoder.reduction == 2
    assert model.predict(torch.zeros(1, 3, 64, 64)).shape == (1, 1, 64, 64)
