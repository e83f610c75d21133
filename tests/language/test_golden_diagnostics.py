"""Every bad space in tests/spaces/bad gives exactly the diagnostics in NAME.expected, as
`sedsl check` renders them for a reader: message, source lines, carets, labels, notes, help.

Run with SEDSL_UPDATE_GOLDEN=1 to rewrite the expectations after an intended change.
Files under tests/spaces/bad/lib are helpers that the top files import; they are not cases.
"""

from __future__ import annotations

import json
import os

import pytest

from tests.language.conftest import BAD_DIR, ROOT, run_sedsl

CASES = sorted(BAD_DIR.glob("*.space"))
UPDATE = os.environ.get("SEDSL_UPDATE_GOLDEN") == "1"


def test_there_is_a_case_per_error_class():
    assert len(CASES) >= 20


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.stem)
def test_bad_space_gives_expected_diagnostics(case):
    result = run_sedsl("check", "--no-color", str(case.relative_to(ROOT)))
    # a note may name an absolute path (where an import was looked for): the checkout's
    # own location is not part of the expectation
    stdout = result.stdout.replace(f"{ROOT}/", "")
    expected_path = case.with_suffix(".expected")
    if UPDATE:
        expected_path.write_text(stdout, encoding="utf-8")
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert stdout == expected_path.read_text(encoding="utf-8")


def test_each_case_reports_at_least_one_error_in_its_own_family():
    seen = set()
    for case in CASES:
        expected = case.with_suffix(".expected").read_text(encoding="utf-8")
        assert "error[E" in expected, case.name
        seen |= {line.split("error[")[1][:4] for line in expected.splitlines() if "error[" in line}
    for code in ("E001", "E010", "E011", "E014", "E020", "E021", "E022", "E030", "E031"):
        assert code in seen
    for code in ("E040", "E050", "E051", "E052", "E012", "E060", "E061", "E025"):
        assert code in seen
    for code in ("E016", "E017", "E018", "E019", "E026"):  # E012's former catch-all
        assert code in seen


def test_text_format_draws_a_caret_under_the_span():
    result = run_sedsl("check", "--no-color", "tests/spaces/bad/unknown_name.space")
    lines = result.stdout.splitlines()
    assert lines[0] == "error[E010]: unknown op `sqeeze_ch`; did you mean `squeeze_ch`?"
    assert lines[1].strip() == "--> tests/spaces/bad/unknown_name.space:6:7"
    source = next(i for i, line in enumerate(lines) if line.startswith("6 |"))
    assert lines[source] == "6 |   s = sqeeze_ch(x)"
    caret = lines[source + 1]
    assert caret == "  |       ^^^^^^^^^ not defined"
    # the caret sits exactly under the name
    assert caret.index("^") == lines[source].index("sqeeze_ch")
    assert result.stdout.rstrip().endswith("1 error, 0 warnings")


def test_text_format_gives_the_bindings_of_a_violated_requirement():
    result = run_sedsl("check", "--no-color", "tests/spaces/bad/constraint_violated.space")
    assert "with C=16, reduction=32: C // reduction = 0" in result.stdout
    assert "fails at 1 of 3 instantiation points (resnet20)" in result.stdout


def _check_span(span: dict) -> None:
    assert set(span) == {"file", "line", "column", "end_line", "end_column"}
    assert isinstance(span["file"], str)
    for key in ("line", "column", "end_line", "end_column"):
        assert isinstance(span[key], int) and span[key] >= 1


def test_json_format_follows_the_documented_schema():
    files = ["tests/spaces/bad/constraint_violated.space", "tests/spaces/bad/unknown_name.space"]
    result = run_sedsl("check", "--format", "json", *files)
    assert result.returncode == 1
    payload = json.loads(result.stdout)
    assert set(payload) == {"version", "files", "errors", "warnings", "diagnostics", "sizes"}
    assert payload["sizes"] == []  # neither file is clean
    assert payload["version"] == 1
    assert payload["files"] == files
    diags = payload["diagnostics"]
    assert payload["errors"] == sum(d["severity"] == "error" for d in diags) == 2
    assert payload["warnings"] == sum(d["severity"] == "warning" for d in diags)
    for d in diags:
        keys = {"code", "severity", "message", "span", "label", "labels", "notes", "help"}
        assert set(d) == keys
        assert d["severity"] in ("error", "warning", "note")
        assert d["code"][0] in "EW" and d["code"][1:].isdigit()
        assert isinstance(d["message"], str) and isinstance(d["label"], str)
        _check_span(d["span"])
        for label in d["labels"]:
            assert set(label) == {"span", "message"}
            _check_span(label["span"])
        assert all(isinstance(n, str) for n in d["notes"])
        assert d["help"] is None or isinstance(d["help"], str)
    assert {d["code"] for d in diags} == {"E040", "E010"}


def test_json_format_of_a_clean_space_is_empty():
    result = run_sedsl("check", "--format", "json", "spaces/sase.space")
    assert result.returncode == 0
    payload = json.loads(result.stdout)
    assert payload["errors"] == 0 and payload["diagnostics"] == []
