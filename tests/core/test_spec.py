"""Spec validation (both passes), locations of errors, JSON files, schema, round trips."""

from __future__ import annotations

import json

import pytest

import seghub
from seghub.errors import SpecError

BASE = {"encoder": {"name": "toy", "depth": 3}, "decoder": {"name": "toyhead"}}


def _paths(exc: SpecError) -> list[str]:
    return [issue.path for issue in exc.issues]


def _spec(**parts):
    spec = json.loads(json.dumps(BASE))
    for key, value in parts.items():
        if isinstance(value, dict) and isinstance(spec.get(key), dict):
            spec[key].update(value)
        else:
            spec[key] = value
    return spec


@pytest.mark.parametrize(
    ("spec", "path", "fragment"),
    [
        (_spec(extra=1), "extra", "unknown key"),
        (_spec(encoder={"colour": "red"}), "encoder.colour", "unknown key"),
        (_spec(encoder={"depth": 0}), "encoder.depth", "greater than or equal to 1"),
        (_spec(encoder={"in_channels": "three"}), "encoder.in_channels", "valid integer"),
        (_spec(encoder={"output_stride": 4}), "encoder.output_stride", "8, 16 or 32"),
        ({"decoder": {"name": "toyhead"}}, "encoder", "Field required"),
        (_spec(segmentation_head={"classes": 0}), "segmentation_head.classes", "greater than or equal to 1"),
        (_spec(segmentation_head={"activation": "relu6"}), "segmentation_head.activation", "unknown activation 'relu6'"),
        (_spec(segmentation_head={"kernel_size": 2}), "segmentation_head.kernel_size", "must be odd"),
        (_spec(classification_head={"classes": 3, "pooling": "mean"}), "classification_head.pooling", "'avg' or 'max'"),
        (_spec(classification_head={"classes": 3, "dropout": 1.5}), "classification_head.dropout", "less than 1"),
        (_spec(classification_head={"pooling": "avg"}), "classification_head.classes", "Field required"),
        (_spec(version=0), "version", "Input should be 1"),
        (_spec(decoder={"params": {"decoder_channels": -1}}), "decoder.params.decoder_channels", "greater than or equal to 1"),
        (_spec(decoder={"params": {"decoder_chanels": 8}}), "decoder.params.decoder_chanels", "unknown key"),
        (_spec(encoder={"params": {"width": "wide"}}), "encoder.params.width", "valid integer"),
    ],
)
def test_spec_errors_name_their_location(toy, spec, path, fragment):
    with pytest.raises(SpecError) as info:
        seghub.build_model(spec)
    assert path in _paths(info.value)
    assert fragment in str(info.value)


def test_all_problems_of_both_plugins_are_reported_together(toy):
    spec = _spec(encoder={"params": {"width": 0}}, decoder={"params": {"decoder_channels": 0, "x": 1}})
    with pytest.raises(SpecError) as info:
        seghub.validate_spec(spec)
    assert _paths(info.value) == ["encoder.params.width", "decoder.params.decoder_channels", "decoder.params.x"]


def test_newer_spec_version_says_so(toy):
    with pytest.raises(SpecError, match="version 2 is newer than this seghub understands"):
        seghub.build_model(_spec(version=2))


def test_factory_errors_become_spec_errors(toy):
    with pytest.raises(SpecError, match="output_stride 16 is not supported by toy") as info:
        seghub.build_model(_spec(encoder={"output_stride": 16}))
    assert _paths(info.value) == ["encoder"]


def test_spec_from_json_file_and_bad_files(toy, tmp_path):
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(_spec(segmentation_head={"classes": 3})))
    assert seghub.build_model(path).segmentation_head[0].out_channels == 3
    assert seghub.build_model(str(path)).spec.segmentation_head.classes == 3
    with pytest.raises(SpecError, match="cannot read spec file"):
        seghub.build_model(tmp_path / "missing.json")
    path.write_text("{not json")
    with pytest.raises(SpecError, match="not valid JSON"):
        seghub.build_model(path)


def test_model_spec_object_is_accepted_and_resolved(toy):
    spec = seghub.ModelSpec.model_validate(BASE)
    model = seghub.build_model(spec)
    resolved = model.spec
    assert resolved.decoder.params == {"decoder_channels": 8}
    assert resolved.encoder.params == {"width": 4}
    assert (resolved.segmentation_head.kernel_size, resolved.segmentation_head.upsampling) == (3, 2)


def test_rebuilding_from_model_spec_gives_the_same_architecture(toy):
    model = seghub.build_model(_spec(encoder={"in_channels": 5, "params": {"width": 3}}, classification_head={"classes": 2}))
    again = seghub.build_model(json.loads(model.spec.model_dump_json()))
    assert {k: v.shape for k, v in model.state_dict().items()} == {k: v.shape for k, v in again.state_dict().items()}
    assert again.spec == model.spec


def test_decoder_encoder_defaults_apply_only_when_unset(toy):
    assert seghub.build_model({"encoder": {"name": "toy"}, "decoder": {"name": "toydeep"}}).spec.encoder.depth == 3
    explicit = seghub.build_model({"encoder": {"name": "toy", "depth": 5}, "decoder": {"name": "toydeep"}})
    assert explicit.spec.encoder.depth == 5
    assert explicit.spec.segmentation_head.kernel_size == 1


def test_schema_describes_the_spec():
    schema = seghub.model_schema()
    assert set(schema["properties"]) == {"version", "encoder", "neck", "decoder", "segmentation_head", "classification_head"}
    encoder = schema["$defs"]["EncoderSpec"]
    assert encoder["additionalProperties"] is False
    assert encoder["properties"]["output_stride"]["enum"] == [8, 16, 32]
    json.dumps(schema)  # serialisable as it is
