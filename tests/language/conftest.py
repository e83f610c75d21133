"""Shared helpers of the language tests: the repository root and a `sedsl` subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BAD_DIR = ROOT / "tests" / "spaces" / "bad"


def shipped_spaces() -> list[Path]:
    return sorted((ROOT / "spaces").glob("**/*.space"))


def run_sedsl(*args: str, timeout: float = 30) -> subprocess.CompletedProcess:
    """`sedsl ARGS` from the repository root, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "sedsl.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
