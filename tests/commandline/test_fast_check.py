"""The console script's click-free `sedsl check` (sedsl/check/command.py, started from
sedsl/__main__.py) prints what the click command prints, byte for byte, with the same exit
code; it never imports click; and it leaves every argument it does not read exactly as
click does to click."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sedsl.check.command import _parse_args, fast_check

ROOT = Path(__file__).resolve().parents[2]
BAD = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests" / "spaces" / "bad").glob("*.space"))
SHIPPED = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "spaces").glob("*.space"))


def _run(module: str, args: list[str], **env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    return subprocess.run(
        [sys.executable, "-m", module, "check", *args],
        cwd=ROOT,
        env={**base, "PYTHONPATH": str(ROOT), "SEDSL_NO_CACHE": "1", **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (BAD + SHIPPED[:3], {}),  # errors and warnings, rendered with their source lines
        (SHIPPED[:2], {}),  # clean: the summary lines
        ([*BAD[:5], "--format", "json"], {}),
        ([*BAD[:5], "--format=concise", "--set", "K=2"], {}),
        ([BAD[0], "--color"], {"NO_COLOR": "1"}),
        ([BAD[0]], {"FORCE_COLOR": "1"}),
        ([BAD[0], "--no-color"], {"FORCE_COLOR": "1"}),
        (["no/such/file.space"], {}),  # exit 2
        ([SHIPPED[0], "--set", "reduction=x"], {}),  # declined: click's usage error
        (["--format", "xml", SHIPPED[0]], {}),  # declined
    ],
)
def test_the_click_free_check_prints_what_the_click_command_prints(args, env):
    fast, slow = _run("sedsl", args, **env), _run("sedsl.cli", args, **env)
    # a usage error names the program as it was started; nothing else may differ
    slow_err = slow.stderr.replace("python -m sedsl.cli", "sedsl")
    assert (fast.stdout, fast.stderr, fast.returncode) == (slow.stdout, slow_err, slow.returncode)


def test_the_click_free_check_does_not_import_click():
    code = (
        "import sys; from sedsl.check.command import fast_check; "
        f"rc = fast_check({SHIPPED[:2]!r}); "
        "assert 'click' not in sys.modules, 'click imported'; print(rc)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "SEDSL_NO_CACHE": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "0"


@pytest.mark.parametrize(
    "args",
    [
        [],  # no files: click's usage error
        ["-h"],
        ["a.space", "--help"],
        ["a.space", "--format"],  # no value
        ["a.space", "--format", "--set"],
        ["a.space", "--format", "JSON"],  # click's choices are case-sensitive
        ["a.space", "--set", "K"],
        ["a.space", "--set=K=two"],
        ["a.space", "--"],
        ["-"],
        ["a.space", "--bogus"],
        ["a.space", "-x"],
    ],
)
def test_what_it_does_not_read_as_click_does_goes_to_click(args):
    assert _parse_args(args) is None
    assert fast_check(args) is None


def test_it_reads_the_arguments_as_click_does():
    files, fmt, overrides, flag = _parse_args(
        ["a.space", "--set", "K=2", "b.space", "--format=json", "--set=r=0.5", "--no-color"]
    )
    assert files == [Path("a.space"), Path("b.space")]
    assert (fmt, overrides, flag) == ("json", {"K": 2, "r": 0.5}, False)


@pytest.mark.skipif(os.geteuid() == 0 if hasattr(os, "geteuid") else True, reason="root reads all")
def test_an_unreadable_file_is_left_to_click(tmp_path):
    locked = tmp_path / "locked.space"
    locked.write_text("space s\n")
    locked.chmod(0)
    assert _parse_args([str(locked)]) is None
