"""No traceback, ever: `sedsl check` and `sedsl fmt` on broken versions of every shipped space
and library (each line-prefix, each single-line deletion, random character-level prefixes)
exit with a documented code and print diagnostics, never a Python traceback.

Run in process through click's CliRunner, so a case costs a parse and a check, not a Python
start. The default suite takes every 10th line of each file; `pytest -m slow` takes them all.
"""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from sedsl.check.internal import EXIT_INTERNAL
from sedsl.cli import main
from tests.language.conftest import ROOT, shipped_spaces

DOCUMENTED = {0, 1, 2}  # docs/language.md's exit codes for a broken file; 3 would be a bug
SPACES = shipped_spaces()  # spaces/*.space and spaces/lib/*.space
EVERY = 10  # the default suite's stride through each file's lines
RANDOM_PREFIXES = 200


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines(keepends=True)


def _prefixes(path: Path, stride: int) -> list[str]:
    lines = _lines(path)
    return ["".join(lines[:n]) for n in range(0, len(lines) + 1, stride)]


def _deletions(path: Path, stride: int) -> list[str]:
    lines = _lines(path)
    return ["".join(lines[:n] + lines[n + 1 :]) for n in range(0, len(lines), stride)]


def _random_prefixes(count: int) -> list[tuple[Path, str]]:
    rng = random.Random(10)
    texts = {path: path.read_text(encoding="utf-8") for path in SPACES}
    cases = []
    for _ in range(count):
        path = rng.choice(SPACES)
        cases.append((path, texts[path][: rng.randrange(len(texts[path]) + 1)]))
    return cases


@pytest.fixture(autouse=True)
def _no_cache(monkeypatch):
    monkeypatch.setenv("SEDSL_NO_CACHE", "1")


@pytest.fixture
def folder(tmp_path) -> Path:
    """A folder beside a copy of spaces/lib, so that an intact import resolves."""
    shutil.copytree(ROOT / "spaces" / "lib", tmp_path / "lib")
    return tmp_path


def _assert_no_traceback(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
    runner = CliRunner()
    for args in (["check", "--format", "concise", str(path)], ["fmt", str(path)]):
        result = runner.invoke(main, args)
        where = f"sedsl {args[0]} on {len(text)} characters of {path.name}"
        assert not isinstance(result.exception, Exception) or isinstance(
            result.exception, click.exceptions.Exit
        ), f"{where}: {result.exception!r}"
        assert "Traceback" not in result.output, f"{where}:\n{result.output}"
        assert result.exit_code in DOCUMENTED, f"{where}: exit {result.exit_code}\n{result.output}"


def _run_all(folder: Path, stride: int, lib: bool) -> int:
    cases = 0
    for space in SPACES:
        # a prefix in a folder without lib/ also meets a failed import (the case)
        here = folder if lib else folder / "nolib"
        here.mkdir(exist_ok=True)
        for text in _prefixes(space, stride):
            _assert_no_traceback(here / f"prefix_{space.name}", text)
            cases += 1
        for text in _deletions(space, stride):
            _assert_no_traceback(folder / f"deleted_{space.name}", text)
            cases += 1
    return cases


def test_line_prefixes_and_deletions_of_every_10th_line(folder):
    assert _run_all(folder, EVERY, lib=False) > 2 * len(SPACES)


def test_random_character_prefixes(folder):
    for space, text in _random_prefixes(RANDOM_PREFIXES):
        _assert_no_traceback(folder / f"chars_{space.name}", text)


@pytest.mark.slow
@pytest.mark.parametrize("lib", [False, True], ids=["without_lib", "with_lib"])
def test_every_line_prefix_and_every_line_deletion(folder, lib):
    assert _run_all(folder, 1, lib=lib) > sum(len(_lines(p)) for p in SPACES)


def test_an_exception_inside_sedsl_is_an_internal_error_not_a_traceback(
    folder, monkeypatch, capsys
):
    """The guard itself: a bug in the checker becomes E900 on the file and exit 3."""
    import sedsl.check.checker as checker

    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(checker, "resolve_file", broken)
    path = folder / "good.space"
    shutil.copy(ROOT / "spaces" / "srm.space", path)
    result = CliRunner().invoke(main, ["check", "--format", "concise", str(path)])
    assert result.exit_code == EXIT_INTERNAL, result.output
    assert f"{path}:1:1: error[E900]: internal error while checking" in result.output
    assert "RuntimeError: a bug" in result.output and "Traceback" not in result.output


def test_the_traceback_is_shown_when_asked_for(folder, monkeypatch):
    import sedsl.language.format as format_

    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(format_, "format_module", broken)
    monkeypatch.setenv("SEDSL_TRACEBACK", "1")
    path = folder / "good.space"
    shutil.copy(ROOT / "spaces" / "srm.space", path)
    result = CliRunner().invoke(main, ["fmt", str(path)])
    assert result.exit_code == EXIT_INTERNAL
    assert "error[E900]: internal error while formatting" in result.output
    assert "Traceback (most recent call last)" in result.output
