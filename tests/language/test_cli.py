"""The command line: exit codes, hostile inputs, and no torch on the fast paths."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from tests.language.conftest import ROOT, run_sedsl, shipped_spaces


def test_clean_space_exits_0():
    result = run_sedsl("check", "spaces/sase.space")
    assert result.returncode == 0, result.stdout
    assert "ok: space `sase`" in result.stdout


def test_errors_exit_1():
    assert run_sedsl("check", "tests/spaces/bad/cycle.space").returncode == 1


def test_missing_file_exits_2():
    result = run_sedsl("check", "no/such/file.space")
    assert result.returncode == 2
    assert "E002" in result.stdout and "Traceback" not in result.stdout + result.stderr


def test_unknown_explain_code_exits_2():
    result = run_sedsl("explain", "E999")
    assert result.returncode == 2
    assert "unknown code" in result.stderr


def test_explain_known_code_exits_0():
    result = run_sedsl("explain", "e020")
    assert result.returncode == 0 and result.stdout.startswith("E020:")


def test_usage_error_exits_2():
    assert run_sedsl("check").returncode == 2
    assert run_sedsl("check", "--set", "K", "spaces/sase.space").returncode == 2


def test_fmt_missing_file_exits_2():
    assert run_sedsl("fmt", "no/such/file.space").returncode == 2


HOSTILE = {
    "empty": b"",
    "binary": bytes(range(256)) * 4,
    "not_utf8": b'space s "caf\xe9"\n',
    "five_megabytes": b"param p: int = 1\n" * (5 * 1024 * 1024 // 17),
    "deep_parens": b"param p: int = " + b"(" * 10_000 + b"1" + b")" * 10_000 + b"\n",
    "deep_calls": b"op f(x: [B]) -> [B] = " + b"relu(" * 10_000 + b"x" + b")" * 10_000 + b"\n",
    "deep_unary": b"param p: int = " + b"-" * 10_000 + b"1\n",
    "huge_number": b"param p: int = " + b"9" * 6000 + b"\n",
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_input_gives_a_diagnostic(tmp_path, name):
    path = tmp_path / f"{name}.space"
    path.write_bytes(HOSTILE[name])
    result = run_sedsl("check", "--format", "concise", str(path))
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "Traceback" not in output
    assert "error[E" in result.stdout


def _ordinary(size: int) -> bytes:
    """A clean file of `size` bytes: flat declarations, the work per byte of a real space."""
    lines = [f"param p{i}: int = {i}\n".encode() for i in range(size // 16 + 1)]
    return b"space ordinary\n" + b"".join(lines)[:size]


def _check_seconds(*paths) -> list[float]:
    """Each file's best of five in-process checks, taken in turn so that a change in the
    machine's load hits them alike; load only ever adds time, so the minimum is the cost."""
    from click.testing import CliRunner

    from sedsl.cli import main

    best = [float("inf")] * len(paths)
    for _ in range(5):
        for i, path in enumerate(paths):
            start = time.perf_counter()
            CliRunner().invoke(main, ["check", "--format", "concise", str(path)])
            best[i] = min(best[i], time.perf_counter() - start)
    return best


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_input_costs_no_more_than_ordinary_input_of_its_size(tmp_path, monkeypatch, name):
    """Deep nesting, huge numbers or binary bytes never make the checker super-linear (a
    nesting level costs a few parser reductions more than a flat token, hence 5x). Timed
    against a baseline measured alongside in the same process (an ordinary file of the same
    size), not a wall-clock budget, so that a loaded machine slows both alike."""
    monkeypatch.setenv("SEDSL_NO_CACHE", "1")
    hostile, ordinary = tmp_path / f"{name}.space", tmp_path / "ordinary.space"
    hostile.write_bytes(HOSTILE[name])
    ordinary.write_bytes(_ordinary(len(HOSTILE[name])))
    _check_seconds(ordinary)  # imports and the parser tables, once
    baseline, elapsed = _check_seconds(ordinary, hostile)
    assert elapsed <= 5 * baseline + 0.05, (
        f"{name}: {elapsed:.2f} s, an ordinary file of its size {baseline:.2f} s"
    )


@pytest.mark.parametrize("name", ["binary", "deep_calls", "not_utf8", "huge_number"])
def test_fmt_on_hostile_input_gives_a_diagnostic(tmp_path, name):
    path = tmp_path / f"{name}.space"
    path.write_bytes(HOSTILE[name])
    result = run_sedsl("fmt", str(path))
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    assert "error[E" in result.stderr


_NO_TORCH = """
import runpy, sys
sys.argv = ["sedsl", *sys.argv[1:]]
try:
    runpy.run_module("sedsl.cli", run_name="__main__")
except SystemExit as exit:
    code = exit.code
heavy = sorted(m for m in ("torch", "numpy", "jinja2") if m in sys.modules)
assert not heavy, f"imported {heavy}"
sys.exit(code)
"""


@pytest.mark.parametrize(
    "args",
    [
        ("check", "spaces/sase.space"),
        ("check", "tests/spaces/bad/candidate_signature.space"),
        ("fmt", "spaces/sase.space"),
        ("explain", "E020"),
    ],
)
def test_fast_commands_never_import_torch(args):
    result = subprocess.run(
        [sys.executable, "-c", _NO_TORCH, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert "imported" not in result.stderr, result.stderr
    assert result.returncode in (0, 1), result.stderr


def test_fmt_removes_redundant_parentheses_of_any_depth(tmp_path):
    path = tmp_path / "parens.space"
    path.write_bytes(HOSTILE["deep_parens"])
    result = run_sedsl("fmt", str(path))
    assert result.returncode == 0 and result.stdout == "param p: int = 1\n"


def test_fmt_check_passes_on_shipped_spaces():
    files = [str(p.relative_to(ROOT)) for p in shipped_spaces()]
    result = run_sedsl("fmt", "--check", *files)
    assert result.returncode == 0, result.stdout + result.stderr


def test_fmt_check_flags_an_unformatted_file(tmp_path):
    path = tmp_path / "messy.space"
    path.write_text("space   messy\nparam p:int=1", encoding="utf-8")
    result = run_sedsl("fmt", "--check", str(path))
    assert result.returncode == 1 and "would reformat" in result.stdout
    assert run_sedsl("fmt", "-w", str(path)).returncode == 0
    assert path.read_text(encoding="utf-8") == "space messy\n\nparam p: int = 1\n"
    assert run_sedsl("fmt", "--check", str(path)).returncode == 0
