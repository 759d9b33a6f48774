"""Necks in the core: the spec's neck section (left out, null, named), the builder's pick and its
record in model.spec, saving and loading, listing, and the conformance kit."""

from __future__ import annotations

import json

import pytest
import torch

import seghub
from seghub._cli import main
from seghub.errors import SpecError, UnknownNameError
from seghub.testing import check_neck

X = torch.randn(2, 3, 32, 32)
TWO_LEVELS = {"name": "toy", "depth": 2}  # toypyramid needs three features: it cannot use these


def test_a_spec_without_neck_gets_none_where_the_decoder_can_use_the_features(toy):
    model = seghub.build_model({"encoder": {"name": "toy", "depth": 3}, "decoder": {"name": "toypyramid"}})
    assert model.neck is None and model.spec.neck is None and "neck" in model.spec.model_fields_set


def test_the_builder_picks_a_neck_and_records_it(toy):
    model = seghub.build_model({"encoder": TWO_LEVELS, "decoder": {"name": "toypyramid"}})
    assert type(model.neck).__name__ == "ToyNeck"
    assert model.spec.neck.model_dump() == {"name": "toyneck", "provider": None, "params": {"levels": 3}}
    assert model.neck.reductions == (4, 8, 16)
    assert model(X).shape == (2, 1, 32, 32)
    assert model.input_divisor == 16  # the neck's coarsest reduction counts too
    again = seghub.build_model(model.spec)  # the recorded choice rebuilds the same architecture
    assert {k: v.shape for k, v in again.state_dict().items()} == {k: v.shape for k, v in model.state_dict().items()}
    assert seghub.build_model(json.loads(json.dumps(model.spec.model_dump()))).spec == model.spec


def test_an_explicit_null_keeps_the_error(toy):
    with pytest.raises(SpecError, match=r"decoder 'toypyramid' needs at least 3 encoder features"):
        seghub.build_model({"encoder": TWO_LEVELS, "neck": None, "decoder": {"name": "toypyramid"}})


def test_a_named_neck_is_used_with_its_params(toy):
    spec = {"encoder": TWO_LEVELS, "neck": {"name": "ToyNeck", "params": {"levels": 4}}, "decoder": {"name": "toyhead"}}
    model = seghub.build_model(spec)
    assert model.neck.reductions == (4, 8, 16, 32) and model.spec.neck.name == "toyneck"
    with pytest.raises(SpecError, match=r"neck\.params\.levels"):
        seghub.build_model({**spec, "neck": {"name": "toyneck", "params": {"levels": 9}}})
    with pytest.raises(UnknownNameError, match=r"neck\.name: unknown neck 'toynek'.*Did you mean 'toyneck'"):
        seghub.build_model({**spec, "neck": {"name": "toynek"}})


def test_one_feature_is_enough_for_the_toy_neck(toy):
    model = seghub.build_model({"encoder": {"name": "toy", "depth": 1}, "decoder": {"name": "toypyramid"}})
    assert model.neck.reductions == (2, 4, 8)  # three maps from the one at reduction 2


def _refuse(**_: object) -> None:
    raise ValueError("this neck takes no layout")


class _ToyWithRefusingNeck:
    """The toy encoder and pyramid decoder, and a neck that refuses every layout."""

    @seghub.hookimpl
    def seghub_register_encoders(self, registry: seghub.Registry) -> None:
        registry.add_encoder("toy", factory="toy_plugins:ToyEncoder", params="toy_plugins:ToyEncoderParams")

    @seghub.hookimpl
    def seghub_register_decoders(self, registry: seghub.Registry) -> None:
        registry.add_decoder("toypyramid", factory="toy_plugins:ToyDecoder", constraints={"features": {"min_features": 3}})

    @seghub.hookimpl
    def seghub_register_necks(self, registry: seghub.Registry) -> None:
        registry.add_neck("refuser", factory=_refuse)


def test_when_no_neck_fits_the_error_says_which_were_tried(hub, monkeypatch):
    monkeypatch.setenv("SEGHUB_DISABLE_PLUGINS", "seghub-decoders")  # its necks would fit
    hub.reload()
    hub.register(_ToyWithRefusingNeck(), "toy-refusing")
    with pytest.raises(SpecError, match=r"needs at least 3 encoder features.*No registered neck makes them fit \(tried refuser\)"):
        seghub.build_model({"encoder": TWO_LEVELS, "decoder": {"name": "toypyramid"}})


def test_a_saved_model_with_a_neck_loads_and_requires_its_plugin(toy, tmp_path):
    model = seghub.build_model({"encoder": TWO_LEVELS, "decoder": {"name": "toypyramid"}}).eval()
    folder = model.save_pretrained(tmp_path / "necked")
    config = json.loads((folder / "config.json").read_text())
    assert config["spec"]["neck"]["name"] == "toyneck"
    assert "neck toyneck" in config["requires"][1]["provides"]
    loaded = seghub.from_pretrained(folder)
    assert torch.equal(loaded(X), model(X))


def test_specs_from_before_necks_build_the_same_model(toy):
    old = {"version": 1, "encoder": {"name": "toy", "depth": 3}, "decoder": {"name": "toyhead"}}
    model = seghub.build_model(old)
    assert model.neck is None and model.spec.neck is None
    assert not any(key.startswith("neck.") for key in model.state_dict())


def test_necks_are_listed_and_checked(toy, capsys):
    assert main(["necks"]) == 0
    assert "toyneck" in capsys.readouterr().out
    assert seghub.list_necks()[0] == "toyneck"  # tried first: the lowest priority
    report = check_neck("toyneck", layouts=[((8, 16), (2, 4)), ((16,), (16,))], import_light=False)
    assert len(report.checked) == 2


class _BrokenNeck:
    @seghub.hookimpl
    def seghub_register_necks(self, registry: seghub.Registry) -> None:
        registry.add_neck("broken", factory="no_such_module:Neck", priority=0)


def test_a_broken_neck_is_skipped_when_the_builder_picks(toy):
    toy.register(_BrokenNeck(), "broken-neck")
    model = seghub.build_model({"encoder": TWO_LEVELS, "decoder": {"name": "toypyramid"}})
    assert model.spec.neck.name == "toyneck"
    with pytest.raises(seghub.PluginError, match="no_such_module"):  # named, it is an error
        seghub.build_model({"encoder": TWO_LEVELS, "neck": {"name": "broken"}, "decoder": {"name": "toypyramid"}})
