"""``seghub schema [NAME]``: the spec's JSON Schema, or one part's params with descriptions and
defaults; the "unknown key" errors of params point at it (issue 17, item 9)."""

from __future__ import annotations

import json
import re

import pytest

import seghub
from seghub._cli import main


def _run(args: list[str]) -> int:
    try:
        return main(args)
    except SystemExit as exc:
        return int(exc.code)


def _schema(capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    assert main(["schema", *args]) == 0
    return json.loads(capsys.readouterr().out)


def test_without_a_name_it_is_the_spec_schema(capsys):
    assert _schema(capsys)["title"] == "ModelSpec"


@pytest.mark.parametrize(
    ("name", "kind", "field", "default"),
    [("toyhead", "decoder", "decoder_channels", 8), ("ToyHead", "decoder", "decoder_channels", 8), ("toy", "encoder", "width", 4)],
)
def test_a_parts_params(toy, capsys, name, kind, field, default):
    schema = _schema(capsys, name)
    assert schema["title"] == f"{kind}.params of {name.lower()}"
    assert schema["additionalProperties"] is False
    assert schema["properties"][field]["default"] == default
    assert schema["properties"][field]["minimum"] == 1
    assert "toy_plugins" in schema["$comment"]


def test_a_part_without_params_model(toy, capsys):
    schema = _schema(capsys, "toydeep")
    assert schema["type"] == "object" and "declares no params model" in schema["description"]


def test_unknown_names_get_suggestions_from_every_kind(toy, capsys):
    assert _run(["schema", "toyhed"]) == 2
    err = capsys.readouterr().err
    assert "no encoder, decoder or neck is called 'toyhed'" in err and "Did you mean 'toyhead' or" in err
    assert _run(["schema", "toyhead", "--kind", "encoder"]) == 2
    assert "unknown encoder 'toyhead'" in capsys.readouterr().err
    assert _run(["schema", "--kind", "encoder"]) == 2
    assert "apply to a NAME" in capsys.readouterr().err


class _SameName:
    @seghub.hookimpl
    def seghub_register_encoders(self, registry):
        registry.add_encoder("twin", factory="toy_plugins:ToyEncoder", params="toy_plugins:ToyEncoderParams")

    @seghub.hookimpl
    def seghub_register_decoders(self, registry):
        registry.add_decoder("twin", factory="toy_plugins:ToyDecoder", params="toy_plugins:ToyDecoderParams")


def test_a_name_of_two_kinds_needs_kind(toy, capsys):
    toy.register(_SameName(), "twins")
    assert _run(["schema", "twin"]) == 2
    assert "several kinds of part (encoder, decoder); pick one with --kind" in capsys.readouterr().err
    assert "width" in _schema(capsys, "twin", "--kind", "encoder")["properties"]
    assert "decoder_channels" in _schema(capsys, "twin", "--kind", "decoder", "--provider", "twins")["properties"]


@pytest.mark.parametrize(("section", "typo", "suggested"), [("decoder", "decoder_chanels", "decoder_channels"), ("encoder", "widht", "width")])
def test_unknown_params_keys_point_at_a_command_that_lists_them(toy, capsys, section, typo, suggested):
    spec = {"encoder": {"name": "toy", "depth": 3}, "decoder": {"name": "toyhead"}}
    spec[section]["params"] = {typo: 1}
    with pytest.raises(seghub.SpecError) as info:
        seghub.validate_spec(spec)
    message = str(info.value)
    assert f"{section}.params.{typo}: unknown key" in message and f"Did you mean {suggested!r}?" in message
    command = re.search(r"`seghub (schema [^`]+)`", message).group(1).split()
    assert suggested in _schema(capsys, *command[1:])["properties"]
