"""A warm `sedsl check` answers from the check cache: it must not import the parser, the
resolver, the IR or the op library (they are most of the cold start-up time)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("lark", "sedsl.language.ir", "sedsl.language.resolve", "sedsl.ops.library")

PROBE = """
import runpy, sys
sys.argv = ["sedsl", "check", *sys.argv[1:]]
try:
    runpy.run_module("sedsl.cli", run_name="__main__")
except SystemExit:
    pass
print("LOADED", *[m for m in {heavy!r} if m in sys.modules])
"""


def test_warm_check_imports_nothing_heavy(tmp_path):
    env = {**os.environ, "SEDSL_CACHE_DIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    env.pop("SEDSL_NO_CACHE", None)
    spaces = sorted(str(p) for p in (ROOT / "spaces").glob("*.space"))[:3]
    probe = PROBE.format(heavy=HEAVY)
    runs = [
        subprocess.run(
            [sys.executable, "-c", probe, *spaces], env=env, capture_output=True, text=True
        )
        for _ in range(2)
    ]
    loaded = [line for r in runs for line in r.stdout.splitlines() if line.startswith("LOADED")]
    assert loaded[0] != "LOADED", "the cold run should load the front end (probe is broken)"
    assert loaded[1] == "LOADED", f"a warm check imported: {loaded[1]}"
