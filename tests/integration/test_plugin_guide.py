"""The README's "Writing a plugin" guide quotes the example plugin: every line of its code
blocks is a line of the example's files, so the example's tests vouch for the guide."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "seghub-example-encoder"


def _guide_code_blocks() -> list[str]:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "\n## Writing a plugin\n" in readme
    guide = readme.split("\n## Writing a plugin\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```(?:python|toml)\n(.*?)```", guide, flags=re.S)


def test_guide_code_is_the_example_code():
    example_lines = {
        line.strip()
        for path in EXAMPLE.rglob("*")
        if path.suffix in (".py", ".toml")
        for line in path.read_text(encoding="utf-8").splitlines()
    }
    blocks = _guide_code_blocks()
    assert len(blocks) >= 6  # pyproject, hooks, two factories, params, the kit
    quoted = [line.strip() for block in blocks for line in block.splitlines() if line.strip()]
    assert [line for line in quoted if line not in example_lines] == []
