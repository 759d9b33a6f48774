"""Bad input ends in seghub's errors with short messages (issue 17): files that are not JSON,
nesting deeper than any spec, huge values, configs of saved models and smp folders."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import seghub
from seghub._json_input import MAX_NESTING
from seghub.compat.smp import from_smp_pretrained, from_smp_state_dict
from seghub.errors import MAX_SHOWN_ISSUES, SpecError, SpecIssue

BASE = {"encoder": {"name": "toy", "depth": 3}, "decoder": {"name": "toyhead"}}
SHORT = 1000  # characters: every message below stays under this, whatever the input's size


def _nested(depth: int) -> list:
    value: list = []
    for _ in range(depth - 1):
        value = [value]
    return value


def _message(exc_info: pytest.ExceptionInfo[BaseException]) -> str:
    message = str(exc_info.value)
    assert len(message) < SHORT, message[:2000]
    return message


# -- spec files that are not JSON ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "is not UTF-8 text (byte 0x89 at position 0)"),
        (b"[" * 100_000 + b"]" * 100_000, f"nested more than {MAX_NESTING} levels deep"),
        (b'{"encoder": {"name": "toy", "depth": ' + b"9" * 5000 + b"}}", "is not valid JSON"),
        (b'{"encoder": ', "is not valid JSON: Expecting value"),
    ],
    ids=["binary", "deep", "digits", "truncated"],
)
def test_spec_files_that_are_not_json(toy, tmp_path, content, fragment):
    path = tmp_path / "spec.json"
    path.write_bytes(content)
    with pytest.raises(SpecError, match="spec file .*spec.json") as info:
        seghub.build_model(path)
    assert fragment in _message(info)


def test_nesting_is_measured_not_recursed(toy):
    ok = json.loads(json.dumps(BASE))
    ok["encoder"]["params"] = {}
    ok["decoder"]["params"] = {"decoder_channels": 8}
    seghub.validate_spec(ok)  # six levels are fine

    deep = json.loads(json.dumps(BASE))
    deep["decoder"]["params"] = {"decoder_channels": _nested(MAX_NESTING)}
    with pytest.raises(SpecError, match=f"nested more than {MAX_NESTING} levels") as info:
        seghub.validate_spec(deep)
    _message(info)

    itself = json.loads(json.dumps(BASE))
    itself["encoder"]["params"] = {"loop": []}
    itself["encoder"]["params"]["loop"].append(itself)
    with pytest.raises(SpecError, match="does it contain itself"):
        seghub.build_model(itself)


def test_unreadable_spec_paths(toy, tmp_path):
    with pytest.raises(SpecError, match="cannot read spec file"):
        seghub.build_model(str(tmp_path / "spec\x00.json"))
    with pytest.raises(SpecError, match="cannot read spec file"):
        seghub.build_model(tmp_path)  # a folder


# -- huge values are quoted short ---------------------------------------------------------------


def test_a_50_mb_value_gives_a_short_message(toy, tmp_path):
    path = tmp_path / "big.json"
    path.write_text(json.dumps({**BASE, "encoder": {"name": "x" * 50_000_000}}))
    with pytest.raises(seghub.UnknownNameError, match=r"encoder\.name: unknown encoder 'xxx") as info:
        seghub.build_model(path)
    assert "..." in _message(info)


@pytest.mark.parametrize(
    ("spec", "location"),
    [
        ({**BASE, "encoder": list(range(1_000_000))}, "encoder"),
        ({**BASE, "segmentation_head": {"activation": "swish" * 200_000}}, "segmentation_head.activation"),
        ({**BASE, "decoder": {"name": "toyhead", "params": {"decoder_channels": "8" * 1_000_000}}}, "decoder.params.decoder_channels"),
        ({**BASE, "classification_head": {"classes": 2, "k" * 1_000_000: 1}}, "classification_head.kkk"),
        ({**BASE, "decoder": {"name": "toyhead", "provider": "p" * 1_000_000}}, "decoder.name"),
    ],
    ids=["array", "activation", "params", "unknown-key", "provider"],
)
def test_huge_values_are_quoted_as_excerpts(toy, spec, location):
    with pytest.raises(seghub.SeghubError) as info:
        seghub.build_model(spec)
    assert location in _message(info)


def test_spec_error_shows_the_first_issues_and_counts_the_rest():
    issues = [SpecIssue(("decoder", "params", "decoder_channels", i), "Input should be greater than 0") for i in range(10_000)]
    error = SpecError(issues)
    message = str(error)
    assert len(error.issues) == 10_000
    assert "decoder.params.decoder_channels[19]" in message and "decoder_channels[20]" not in message
    assert message.splitlines()[-1] == f"  ... and {10_000 - MAX_SHOWN_ISSUES} more"
    assert message.startswith("invalid model spec (10000 problems)")


def test_factory_errors_are_quoted_short(toy, monkeypatch):
    from toy_plugins import ToyDecoder

    def refuse(self, **kwargs):
        raise ValueError("decoder_channels " + "9" * 1_000_000 + " is too many")

    monkeypatch.setattr(ToyDecoder, "__init__", refuse)
    with pytest.raises(SpecError) as info:
        seghub.build_model(BASE)
    assert [issue.path for issue in info.value.issues] == ["decoder"]
    assert "more characters)" in _message(info)


# -- saved folders ------------------------------------------------------------------------------


def _saved(tmp_path: Path) -> Path:
    return seghub.build_model(BASE).save_pretrained(tmp_path / "saved")


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"[" * 100_000 + b"]" * 100_000, f"config.json cannot be read as JSON: nested more than {MAX_NESTING}"),
        (b"\xff\xfe{\x00}\x00", "config.json cannot be read as JSON: not UTF-8 text"),
    ],
    ids=["deep", "utf16"],
)
def test_from_pretrained_of_a_config_that_is_not_json(toy, tmp_path, content, fragment):
    folder = _saved(tmp_path)
    (folder / "config.json").write_bytes(content)
    with pytest.raises(SpecError) as info:
        seghub.from_pretrained(folder)
    assert fragment in _message(info)


def test_from_pretrained_of_a_deeply_nested_spec(toy, tmp_path):
    folder = _saved(tmp_path)
    config = json.loads((folder / "config.json").read_text())
    config["spec"]["decoder"]["params"] = {"decoder_channels": _nested(500)}  # parses, then is measured
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(SpecError, match=f"nested more than {MAX_NESTING}"):
        seghub.from_pretrained(folder)


def test_from_smp_pretrained_of_a_deeply_nested_config(toy, tmp_path):
    folder = tmp_path / "smp"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes(b"never read")
    (folder / "config.json").write_text('{"_model_class": "ToyNet", "encoder_name": ' + "[" * 100_000 + "]" * 100_000 + "}")
    with pytest.raises(SpecError, match=f"config.json cannot be read as JSON: nested more than {MAX_NESTING}"):
        from_smp_pretrained(folder)


# -- aux_params that is not a mapping: every path from smp's arguments --------------------------


@pytest.mark.parametrize("aux_params", [5, [], True, "classes=4"])
def test_aux_params_must_be_a_mapping_in_the_constructor_and_the_smp_import(toy, tmp_path, aux_params):
    from toy_plugins import ToyNet

    with pytest.raises(ValueError, match="aux_params must be a mapping"):
        ToyNet("toy", aux_params=aux_params)
    with pytest.raises(ValueError, match="aux_params must be a mapping"):
        from_smp_state_dict("toynet", {}, encoder_name="toy", aux_params=aux_params)
    folder = tmp_path / "smp"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes(b"never read")
    (folder / "config.json").write_text(json.dumps({"_model_class": "ToyNet", "encoder_name": "toy", "aux_params": aux_params}))
    with pytest.raises(ValueError, match="aux_params must be a mapping"):
        from_smp_pretrained(folder)


@pytest.mark.parametrize(
    ("edit", "location"),
    [
        (lambda c: c["requires"][1].update(distribution="d" * 10_000_000), "requires[1].distribution"),
        (lambda c: c["requires"][1].update(provides=["encoder x"] * 1_000_000), "requires[1].provides"),
        (lambda c: c.update(format=int("9" * 4000)), "format"),
        (lambda c: c["spec"].update(version=int("9" * 4000)), "spec.version"),
    ],
    ids=["distribution", "provides", "format", "version"],
)
def test_from_pretrained_of_a_config_with_huge_values(toy, tmp_path, edit, location):
    folder = _saved(tmp_path)
    config = json.loads((folder / "config.json").read_text())
    edit(config)
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(SpecError) as info:
        seghub.from_pretrained(folder)
    assert location in _message(info)


def test_cli_options_are_quoted_short(toy, capsys):
    from seghub._cli import main

    with pytest.raises(SystemExit):
        main(["build", "spec.json", "--input-shape", "1," * 1_000_000])
    assert len(capsys.readouterr().err) < SHORT
