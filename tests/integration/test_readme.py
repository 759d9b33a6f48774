"""Every ```python block of README.md runs as it stands, each in a fresh namespace and a temporary
working directory. The "Writing a plugin" guide is checked line by line against the example
plugin instead (test_plugin_guide.py); a block that cannot run here (it needs the network) is
preceded by a ``<!-- not run: reason -->`` line, and the test checks each such block says why."""

from __future__ import annotations

import re
from pathlib import Path
from typing import NamedTuple

import pytest
import torch

REPO = Path(__file__).resolve().parents[2]
GUIDE = "Writing a plugin"
NOT_RUN = re.compile(r"<!-- not run: (.+?) -->\s*$")


class Block(NamedTuple):
    section: str
    line: int
    code: str
    skip_reason: str | None


def readme_blocks() -> list[Block]:
    lines = (REPO / "README.md").read_text(encoding="utf-8").splitlines()
    blocks, section, i = [], "", 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("## "):
            section = line[3:].strip()
        if line.strip() == "```python":
            start = i
            end = lines.index("```", i + 1)
            previous = next((lines[j] for j in range(start - 1, -1, -1) if lines[j].strip()), "")
            match = NOT_RUN.search(previous)
            blocks.append(Block(section, start + 1, "\n".join(lines[start + 1:end]), match and match.group(1)))
            i = end
        i += 1
    return blocks


BLOCKS = [b for b in readme_blocks() if b.section != GUIDE]


def test_readme_has_runnable_blocks():
    assert len([b for b in BLOCKS if b.skip_reason is None]) >= 3


@pytest.mark.parametrize("block", BLOCKS, ids=[f"{b.section}:{b.line}" for b in BLOCKS])
def test_readme_block_runs(block: Block, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if block.skip_reason is not None:
        assert len(block.skip_reason.split()) >= 2, "say why the block cannot run"
        return
    monkeypatch.chdir(tmp_path)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        exec(compile(block.code, f"README.md:{block.line}", "exec"), {"__name__": "readme"})
    finally:
        torch.set_num_threads(threads)
