"""Golden tests of `sedsl generate`: the committed generated/ is current, output is deterministic,
parses, is lint clean, `--check` names stale files, and writes never clobber foreign directories."""

from __future__ import annotations

import ast
import shutil
import subprocess
import warnings
from pathlib import Path

import pytest

from tests.codegen.helpers import GENERATED, GENERATED_SPACES, ROOT, SPACE_FILES, ruff, run_sedsl

SPACE_ARGS = [str(p.relative_to(ROOT)) for p in SPACE_FILES]


def tree_bytes(root: Path) -> dict[str, bytes]:
    files = sorted(p for p in root.rglob("*") if p.is_file())
    return {str(p.relative_to(root)): p.read_bytes() for p in files}


def generate_into(out: Path) -> None:
    result = run_sedsl("generate", *SPACE_ARGS, "-o", str(out))
    assert result.returncode == 0, result.stderr


@pytest.fixture(scope="module")
def fresh(tmp_path_factory) -> Path:
    """Every space generated into an empty directory (so the tests below do not depend on the
    committed output being current; the first test alone checks that)."""
    out = tmp_path_factory.mktemp("fresh") / "generated"
    generate_into(out)
    return out


def test_committed_generated_is_up_to_date():
    result = run_sedsl("generate", "--check", *SPACE_ARGS, "-o", "generated")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "up to date" in result.stdout


def test_generating_twice_gives_identical_bytes(tmp_path, fresh):
    generate_into(tmp_path / "again")
    assert tree_bytes(tmp_path / "again") == tree_bytes(fresh)
    assert sorted(p.name for p in fresh.iterdir()) == sorted(GENERATED_SPACES)


def test_every_generated_file_parses_without_warnings():
    files = sorted(GENERATED.glob("*/*.py"))
    assert len(files) == 4 * len(GENERATED_SPACES)
    for path in files:
        source = path.read_text(encoding="utf-8")
        ast.parse(source, filename=str(path))
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # e.g. an invalid escape from a docstring
            compile(source, str(path), "exec")


@pytest.mark.parametrize("command", [["check"], ["format", "--check"]], ids=["check", "format"])
def test_generated_is_ruff_clean(command):
    result = subprocess.run(
        [ruff(), *command, "--config", str(ROOT / "pyproject.toml"), "generated"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_check_exits_1_names_each_stale_file_and_writes_nothing(tmp_path, fresh):
    out = tmp_path / "generated"
    shutil.copytree(fresh, out)
    edited, deleted = out / "sase" / "ops.py", out / "tse" / "fixed.py"
    extra = out / "hoga" / "x.py"
    edited.write_text(edited.read_text(encoding="utf-8") + "# hand edit\n", encoding="utf-8")
    deleted.unlink()
    extra.write_text("x = 1\n", encoding="utf-8")
    before = tree_bytes(out)
    result = run_sedsl("generate", "--check", *SPACE_ARGS, "-o", str(out))
    assert result.returncode == 1, result.stdout + result.stderr
    stale = sorted(line for line in result.stdout.splitlines() if line.startswith("stale:"))
    assert stale == sorted(
        [f"stale: {edited}", f"stale: {deleted}", f"stale: {extra} (not generated)"]
    ), result.stdout
    assert tree_bytes(out) == before


def test_refuses_to_overwrite_a_directory_sedsl_did_not_create(tmp_path):
    out = tmp_path / "out"
    foreign = out / "sase"
    foreign.mkdir(parents=True)
    (foreign / "my_work.py").write_text("precious = True\n", encoding="utf-8")
    (foreign / "ops.py").write_text("# mine, not generated\n", encoding="utf-8")
    before = tree_bytes(out)
    result = run_sedsl("generate", "spaces/sase.space", "-o", str(out))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "refusing to overwrite" in result.stderr
    assert ".sedsl" in result.stderr and str(foreign) in result.stderr
    assert "Traceback" not in result.stderr
    assert tree_bytes(out) == before
    assert sorted(p.name for p in out.iterdir()) == ["sase"]  # no staging directory left behind


def test_regenerating_replaces_a_marked_directory_cleanly(tmp_path, fresh):
    out = tmp_path / "out"
    for _ in range(2):
        result = run_sedsl("generate", "spaces/tse.space", "-o", str(out))
        assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["tse"]  # no temp or .old directories
    assert (out / "tse" / ".sedsl").is_file()
    assert tree_bytes(out / "tse") == tree_bytes(fresh / "tse")
