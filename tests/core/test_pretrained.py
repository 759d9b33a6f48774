"""save_pretrained / from_pretrained with the toy plugins: what config.json records about the
plugins a model needs, in-process plugins, and configs that are not JSON objects."""

from __future__ import annotations

import json

import pytest
import torch

import seghub
from toy_plugins import toy_module

X = torch.randn(1, 3, 32, 32)


def _toy_model(encoder: str, decoder: str) -> seghub.SegmentationModel:
    torch.manual_seed(0)
    spec = {"encoder": {"name": encoder, "depth": 3}, "decoder": {"name": decoder}, "segmentation_head": {"classes": 2}}
    return seghub.build_model(spec).eval()


def test_installed_plugin_is_recorded_once_with_its_version(fake_dist, tmp_path):
    fake_dist("seghub-acme", "acme", "acme_plugin", toy_module(), version="1.2.3")
    model = _toy_model("acme_enc", "acme_head")
    folder = model.save_pretrained(tmp_path / "acme")
    requires = json.loads((folder / "config.json").read_text())["requires"]
    assert requires[1:] == [
        {"distribution": "seghub-acme", "version": "1.2.3", "plugin": "acme", "provides": ["encoder acme_enc", "decoder acme_head"]}
    ]
    assert requires[0]["distribution"] == "seghub-core"
    loaded = seghub.from_pretrained(folder)
    assert torch.equal(loaded(X), model(X)) and loaded.spec == model.spec

    config = json.loads((folder / "config.json").read_text())
    config["requires"][1]["distribution"] = "seghub-acme-renamed"
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(seghub.PluginError, match=r"for encoder acme_enc, decoder acme_head; saved with version 1\.2\.3\)\. "
                                                 r"Install with: pip install seghub-acme-renamed$"):
        seghub.from_pretrained(folder)


def test_in_process_plugin_has_no_distribution_to_check(toy, tmp_path):
    model = _toy_model("toy", "toyhead")
    folder = model.save_pretrained(tmp_path / "toy")
    requires = json.loads((folder / "config.json").read_text())["requires"]
    assert requires[1] == {"distribution": None, "version": None, "plugin": "toy", "provides": ["encoder toy", "decoder toyhead"]}
    assert "in-process plugin toy" in (folder / "README.md").read_text()
    assert torch.equal(seghub.SegmentationModel.from_pretrained(folder)(X), model(X))

    toy.unregister("toy")  # gone: the lookup says so, there is nothing to pip install
    with pytest.raises(seghub.UnknownNameError, match="unknown encoder 'toy'"):
        seghub.from_pretrained(folder)


@pytest.mark.parametrize(("text", "message"), [("[1, 2]", "must hold a JSON object"), ("{", "cannot be read as JSON")])
def test_config_that_is_not_a_json_object(toy, tmp_path, text, message):
    folder = _toy_model("toy", "toyhead").save_pretrained(tmp_path / "toy")
    (folder / "config.json").write_text(text)
    with pytest.raises(seghub.SpecError, match=message):
        seghub.from_pretrained(folder)


def test_model_without_spec_cannot_be_saved(toy, tmp_path):
    model = _toy_model("toy", "toyhead")
    model.spec = None
    with pytest.raises(seghub.SpecError, match="has no spec"):
        model.save_pretrained(tmp_path / "nospec")
