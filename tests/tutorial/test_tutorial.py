"""Runs docs/tutorial-new-space.md: every command, in order, in a scratch directory.

Fenced blocks are read in document order: ```space file=PATH writes PATH; ```bash runs each
line and expects exit 0; ```console exit=N runs the `$ ` line, expects exit N and the block's
output verbatim (the checker's diagnostic, which the tutorial shows and then fixes).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]
TUTORIAL = ROOT / "docs" / "tutorial-new-space.md"
FENCE = re.compile(r"^```(\w+)([^\n]*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def blocks() -> list[tuple[str, dict[str, str], str]]:
    found = []
    for kind, info, body in FENCE.findall(TUTORIAL.read_text(encoding="utf-8")):
        options = dict(item.split("=", 1) for item in info.split() if "=" in item)
        found.append((kind, options, body))
    return found


def run(command: str, cwd: Path) -> subprocess.CompletedProcess:
    argv = shlex.split(command)
    assert argv[0] == "sedsl", command
    env = {**os.environ, "SEDSL_NO_CACHE": "1", "COLUMNS": "100", "OMP_NUM_THREADS": "2"}
    return subprocess.run(
        [sys.executable, "-m", "sedsl.cli", *argv[1:]],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_tutorial_runs_as_written(tmp_path):
    ran, shown = [], 0
    for kind, options, body in blocks():
        if kind == "space":
            target = tmp_path / options["file"]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(body, encoding="utf-8")
        elif kind == "bash":
            for line in filter(None, (raw.strip() for raw in body.splitlines())):
                result = run(line, tmp_path)
                assert result.returncode == 0, f"{line}\n{result.stdout}\n{result.stderr}"
                ran.append(line)
        elif kind == "console":
            command, _, expected = body.partition("\n")
            assert command.startswith("$ "), command
            result = run(command[2:], tmp_path)
            assert result.returncode == int(options.get("exit", 0)), result.stderr
            output = result.stdout + result.stderr
            assert expected.strip() in output, f"{command}: shown\n{expected}\nprinted\n{output}"
            shown += 1
            ran.append(command[2:])
    assert shown == 2 and any("E022" in c for c in ran) and len(ran) >= 7, ran
    assert (tmp_path / "generated" / "coord" / "supernet.py").is_file()
    assert (tmp_path / "runs" / "coord" / "genotype.json").is_file()
    assert "def build_searched" in (tmp_path / "coord_searched.py").read_text()
