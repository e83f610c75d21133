"""CI runs the README's commands exactly: every command of the README's first code block
appears, character for character, as a line of .ci/run."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```bash\n(.*?)```", text, re.S)
    assert block, "README.md has no bash block"
    lines = [line.strip() for line in block.group(1).splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def test_ci_runs_the_readme_commands_exactly():
    ci = {line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()}
    commands = readme_commands()
    assert len(commands) == 2
    for command in commands:
        assert command in ci, command


def test_readme_quickstart_can_run_twice():
    # the search writes into a fixed folder: a second run must replace the first
    search = readme_commands()[0].split(" && ")[-1]
    assert "--out runs/quickstart" in search and "--overwrite" in search.split()
