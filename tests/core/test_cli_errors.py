"""The seghub command ends bad input with one message on stderr and exit code 2, never a
traceback, whatever raised it (issue 17)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from seghub._cli import main
from seghub._cli_errors import EXIT_INTERRUPTED, EXIT_USAGE, TRACEBACK_ENV

GOOD = {"encoder": {"name": "toy", "depth": 3}, "decoder": {"name": "toyhead"}}


def _run(args: list[str]) -> int:
    try:
        return main(args)
    except SystemExit as exc:  # argparse's own refusals
        return int(exc.code)


def _one_message(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert err.startswith("seghub: error: ") and err.count("seghub: error:") == 1, err
    assert "Traceback" not in err and len(err) < 2000, err[:3000]
    return err


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"\x00\x01\xfe\xff binary", "not UTF-8 text"),
        (b"[" * 200_000 + b"]" * 200_000, "nested more than 64 levels"),
        (json.dumps({**GOOD, "encoder": {"name": "toy", "depth": 3, "params": {"width": "w" * 10_000_000}}}).encode(),
         "encoder.params.width"),
        (json.dumps([0] * 1_000_000).encode(), "valid dictionary"),
    ],
    ids=["binary", "deep", "huge-value", "huge-array"],
)
def test_build_of_a_file_that_is_no_spec(toy, tmp_path, capsys, content, fragment):
    path = tmp_path / "spec.json"
    path.write_bytes(content)
    assert _run(["build", str(path)]) == EXIT_USAGE
    assert fragment in _one_message(capsys)


class _Boom(Exception):
    """Neither a seghub error nor one the builder reports as the spec's fault."""


@pytest.mark.parametrize("error", [ImportError("decoder_use_norm='inplace' needs inplace_abn"), _Boom("no luck"), KeyError("x")])
def test_any_error_while_building_is_one_message(toy, tmp_path, capsys, monkeypatch, error):
    from toy_plugins import ToyDecoder

    def fail(self, **kwargs):
        raise error

    monkeypatch.setattr(ToyDecoder, "__init__", fail)
    monkeypatch.delenv(TRACEBACK_ENV, raising=False)
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(GOOD))
    assert _run(["build", str(path)]) == EXIT_USAGE
    err = _one_message(capsys)
    assert f"{type(error).__name__}: " in err and f"{TRACEBACK_ENV}=1 shows the traceback" in err

    monkeypatch.setenv(TRACEBACK_ENV, "1")  # for reporting a bug: the error comes through
    with pytest.raises(type(error)):
        main(["build", str(path)])


def test_torch_stack_traces_are_left_out(toy, tmp_path, capsys, monkeypatch):
    from toy_plugins import ToyDecoder

    def fail(self, **kwargs):
        raise RuntimeError("Overflow when unpacking long long\nException raised from THPUtils_unpackLong at x.h:79\nframe #0: ...")

    monkeypatch.setattr(ToyDecoder, "__init__", fail)
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(GOOD))
    assert _run(["build", str(path)]) == EXIT_USAGE
    err = _one_message(capsys)
    assert "decoder: Overflow when unpacking long long" in err and "frame #0" not in err


@pytest.mark.parametrize(
    "args",
    [
        ["demo", "--spec", "{binary}", "--steps", "1"],
        ["demo", "--spec", "{deep}", "--steps", "1"],
        ["build", "{missing}"],
        ["schema", "no_such_part_anywhere"],
    ],
)
def test_every_subcommand_ends_bad_input_with_exit_2(toy, tmp_path, capsys, args):
    (tmp_path / "binary.json").write_bytes(b"\x89PNG\r\n")
    (tmp_path / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    paths = {name: tmp_path / f"{name}.json" for name in ("binary", "deep", "missing")}
    assert _run([a.format(**paths) for a in args]) == EXIT_USAGE
    _one_message(capsys)


def test_plugin_failures_under_strict_plugins_exit_2(hub, fake_dist, monkeypatch, capsys):
    fake_dist("broken-seghub", "broken", "broken_plugin", "raise ImportError('needs libfoo')\n")
    monkeypatch.setenv("SEGHUB_STRICT_PLUGINS", "1")
    for command in (["plugins"], ["encoders"], ["decoders"]):
        hub.reload()
        assert _run(command) == EXIT_USAGE
        assert "needs libfoo" in _one_message(capsys)


def test_ctrl_c_is_not_a_traceback(toy, capsys, monkeypatch):
    import seghub._cli as cli

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_cmd_plugins", interrupted)
    assert _run(["plugins"]) == EXIT_INTERRUPTED
    assert capsys.readouterr().err == "seghub: interrupted\n"


def test_console_script_on_a_binary_file(tmp_path):
    path = tmp_path / "spec.json"
    path.write_bytes(bytes(range(256)))
    result = subprocess.run([sys.executable, "-m", "seghub", "build", str(path)], capture_output=True, text=True)
    assert result.returncode == EXIT_USAGE
    assert result.stderr.startswith("seghub: error: ") and "Traceback" not in result.stderr
