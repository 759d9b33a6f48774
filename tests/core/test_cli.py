"""The seghub command: output and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from seghub._cli import main


def test_plugins_lists_status(toy, fake_dist, capsys):
    fake_dist("broken-seghub", "broken", "broken_plugin", "raise ImportError('needs libfoo')\n")
    toy.register(__import__("toy_plugins").ToyPlugin(), "toy")
    assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    broken = next(line for line in out.splitlines() if line.startswith("broken"))
    assert "broken-seghub" in broken and "1.2.3" in broken and "failed" in broken and "needs libfoo" in broken
    assert any(line.startswith("toy ") and "(in-process)" in line and " ok" in line for line in out.splitlines())


def test_encoders_and_decoders_with_patterns(toy, capsys):
    assert main(["encoders", "to*"]) == 0
    out = capsys.readouterr().out
    assert "toy" in out and "toyset" in out
    assert main(["decoders", "toy*"]) == 0
    out = capsys.readouterr().out
    assert "toyhead" in out and "toydeep" in out
    assert main(["decoders", "zzz*"]) == 0
    assert "no decoder matches" in capsys.readouterr().out


def test_schema_prints_json(capsys):
    assert main(["schema"]) == 0
    assert json.loads(capsys.readouterr().out)["title"] == "ModelSpec"


def test_build_prints_summary(toy, tmp_path, capsys):
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"encoder": {"name": "toy", "depth": 3, "in_channels": 2}, "decoder": {"name": "toyhead"},
                                "segmentation_head": {"classes": 4}, "classification_head": {"classes": 3}}))
    assert main(["build", str(spec), "--input-shape", "2,2,32,64"]) == 0
    out = capsys.readouterr().out
    assert "mask: (2, 4, 32, 64)" in out and "label: (2, 3)" in out
    assert "(2, 4, 16, 32)@/2" in out
    total = next(line for line in out.splitlines() if line.startswith("total"))
    assert total.split()[-1].replace(",", "").isdigit()


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["build", "{missing}"], "cannot read spec file"),
        (["build", "{bad}"], "encoder.depth"),
        (["build", "{good}", "--input-shape", "1,3,60,64"], "divisible by 8"),
        (["build", "{good}", "--input-shape", "1,1,64,64"], "encoder.in_channels is 3"),
        (["build", "{good}", "--input-shape", "1,3,64"], "N,C,H,W"),
        (["nope"], "invalid choice"),
    ],
)
def test_bad_input_exits_2_with_a_message(toy, tmp_path, capsys, args, fragment):
    (tmp_path / "bad.json").write_text(json.dumps({"encoder": {"name": "toy", "depth": 9}, "decoder": {"name": "toyhead"}}))
    (tmp_path / "good.json").write_text(json.dumps({"encoder": {"name": "toy", "depth": 3}, "decoder": {"name": "toyhead"}}))
    paths = {"missing": tmp_path / "missing.json", "bad": tmp_path / "bad.json", "good": tmp_path / "good.json"}
    assert _run([a.format(**paths) for a in args]) == 2
    err = capsys.readouterr().err
    assert fragment in err and "Traceback" not in err


def _run(args: list[str]) -> int:
    """The exit code, whether main returns it or argparse exits with it."""
    try:
        return main(args)
    except SystemExit as exc:
        return int(exc.code)


def test_console_script_exits_2_without_traceback(tmp_path):
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"encoder": {"name": "no_such_encoder_anywhere"}, "decoder": {"name": "x"}}))
    result = subprocess.run([sys.executable, "-m", "seghub", "build", str(spec)], capture_output=True, text=True)
    assert result.returncode == 2
    assert "unknown encoder 'no_such_encoder_anywhere'" in result.stderr
    assert "Traceback" not in result.stderr
