"""Diagnostic codes are typed constants: every one has its explanation and its row in
docs/language.md, and sedsl's own code reports `Code.NAME`, never a bare "E010"."""

from __future__ import annotations

import re

from sedsl.check.codes import CODES, explain
from sedsl.diagnostics.codes import Code
from tests.language.conftest import ROOT

BARE = re.compile(r"""["'][EW]0\d\d["']""")
# the two modules that define the codes and their texts
DEFINITIONS = {"sedsl/diagnostics/codes.py", "sedsl/check/codes.py"}


def test_every_code_has_an_explanation_and_a_doc_row():
    assert set(CODES) == set(Code)
    doc = (ROOT / "docs" / "language.md").read_text(encoding="utf-8")
    for code in Code:
        title, _ = CODES[code]
        assert explain(code.value.lower()).startswith(f"{code.value}: {title}")
        assert f"| `{code.value}` | {title} |" in doc, code


def test_codes_are_their_text():
    assert Code.UNKNOWN_NAME == "E010" and f"{Code.UNKNOWN_NAME}" == "E010"
    assert len({c.value for c in Code}) == len(Code)


def test_no_bare_code_strings_in_sedsl():
    found = []
    for path in sorted((ROOT / "sedsl").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel in DEFINITIONS:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if BARE.search(line):
                found.append(f"{rel}:{number}: {line.strip()}")
    assert not found, "\n".join(found)
