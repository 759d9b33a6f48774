"""Numbers in the spec are strict and bounded by what can be built (issue 17, items 3 and 4):
booleans, strings and floats are refused for integer fields, JSON's ``3.0`` included; sizes
PyTorch cannot build are located spec errors, before anything is built."""

from __future__ import annotations

import json

import pytest

import seghub
from seghub._cli import main
from seghub._spec_numbers import MAX_CHANNELS, MAX_KERNEL_SIZE, MAX_UPSAMPLING
from seghub.errors import SpecError

BASE = {"encoder": {"name": "toy", "depth": 3}, "decoder": {"name": "toyhead"}}

INTEGER_FIELDS = [
    ("encoder", "in_channels"),
    ("encoder", "depth"),
    ("encoder", "output_stride"),
    ("segmentation_head", "classes"),
    ("segmentation_head", "upsampling"),
    ("segmentation_head", "kernel_size"),
    ("classification_head", "classes"),
    (None, "version"),
]


def _spec(section: str | None, field: str, value: object) -> dict:
    spec = json.loads(json.dumps(BASE))
    if section is None:
        spec[field] = value
    else:
        spec.setdefault(section, {"classes": 2} if section == "classification_head" else {})[field] = value
    return spec


def _located(spec: dict) -> list[str]:
    with pytest.raises(SpecError) as info:
        seghub.validate_spec(spec)
    return [issue.path for issue in info.value.issues]


@pytest.mark.parametrize(("section", "field"), INTEGER_FIELDS)
@pytest.mark.parametrize("value", [True, False, "3", "8", 3.0, 8.0, 16.0, 2.5], ids=repr)
def test_integer_fields_take_integers_only(toy, section, field, value):
    location = field if section is None else f"{section}.{field}"
    assert _located(_spec(section, field, value)) == [location]


@pytest.mark.parametrize(
    ("section", "field", "value"),
    [
        ("encoder", "in_channels", 10**30),
        ("encoder", "in_channels", MAX_CHANNELS + 1),
        ("segmentation_head", "classes", 10**30),
        ("segmentation_head", "classes", MAX_CHANNELS + 1),
        ("classification_head", "classes", 2**31),
        ("segmentation_head", "upsampling", 2**63),
        ("segmentation_head", "upsampling", MAX_UPSAMPLING + 1),
        ("segmentation_head", "kernel_size", MAX_KERNEL_SIZE + 2),
    ],
)
def test_sizes_beyond_what_can_be_built_are_refused_before_building(toy, monkeypatch, section, field, value):
    import seghub._builder as builder

    monkeypatch.setattr(builder, "_head", lambda *a, **k: pytest.fail("a head was built"))
    with pytest.raises(SpecError, match="less than or equal to") as info:
        seghub.build_model(_spec(section, field, value))
    assert [issue.path for issue in info.value.issues] == [f"{section}.{field}"]


def test_the_largest_sizes_are_accepted_by_validation(toy):
    spec = _spec("segmentation_head", "classes", MAX_CHANNELS)
    spec["segmentation_head"].update(upsampling=MAX_UPSAMPLING, kernel_size=MAX_KERNEL_SIZE)
    spec["encoder"]["in_channels"] = MAX_CHANNELS
    head = seghub.validate_spec(spec).spec.segmentation_head
    assert (head.classes, head.upsampling, head.kernel_size) == (MAX_CHANNELS, MAX_UPSAMPLING, MAX_KERNEL_SIZE)


@pytest.mark.parametrize(
    ("section", "field", "value"),
    [
        ("encoder", "checkpointing", "yes"),
        ("encoder", "checkpointing", 1),
        ("decoder", "checkpointing", "true"),
        ("classification_head", "dropout", True),
        ("classification_head", "dropout", "0.5"),
    ],
)
def test_flags_and_floats_are_strict_too(toy, section, field, value):
    assert _located(_spec(section, field, value)) == [f"{section}.{field}"]


def test_an_integer_is_a_number(toy):
    assert seghub.validate_spec(_spec("classification_head", "dropout", 0)).spec.classification_head.dropout == 0.0


def test_the_schema_shows_the_bounds():
    schema = seghub.model_schema()["$defs"]
    assert schema["EncoderSpec"]["properties"]["in_channels"]["maximum"] == MAX_CHANNELS
    assert schema["ClassificationHeadSpec"]["properties"]["classes"]["maximum"] == MAX_CHANNELS
    upsampling = schema["SegmentationHeadSpec"]["properties"]["upsampling"]["anyOf"][0]
    assert upsampling == {"type": "integer", "minimum": 1, "maximum": MAX_UPSAMPLING}


@pytest.mark.parametrize(
    ("section", "field", "value"),
    [("segmentation_head", "classes", 10**30), ("classification_head", "classes", 2**31),
     ("segmentation_head", "upsampling", 2**63), ("encoder", "in_channels", True)],
)
def test_from_pretrained_of_a_config_holding_them(toy, tmp_path, section, field, value):
    folder = seghub.build_model({**BASE, "classification_head": {"classes": 2}}).save_pretrained(tmp_path / "saved")
    config = json.loads((folder / "config.json").read_text())
    config["spec"][section][field] = value
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(SpecError) as info:
        seghub.from_pretrained(folder)
    assert [issue.path for issue in info.value.issues] == [f"spec.{section}.{field}"]


def test_constructors_are_strict(toy):
    from toy_plugins import ToyNet

    with pytest.raises(SpecError, match=r"encoder\.in_channels"):
        ToyNet("toy", in_channels=True)
    with pytest.raises(SpecError, match=r"segmentation_head\.classes"):
        seghub.create_model("toyhead", encoder_name="toy", encoder_weights=None, classes=4.0)
    with pytest.raises(SpecError, match=r"classification_head\.classes"):
        seghub.create_model("toyhead", encoder_name="toy", encoder_weights=None, aux_params={"classes": 2**31})


def test_cli_build_of_1e30_classes(toy, tmp_path, capsys):
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(BASE)[:-1] + ', "segmentation_head": {"classes": 1e30}}')
    assert main(["build", str(path)]) == 2
    err = capsys.readouterr().err
    assert "segmentation_head.classes: Input should be a valid integer (got 1e+30)" in err and "Traceback" not in err
