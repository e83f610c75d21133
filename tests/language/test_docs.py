"""docs/language.md covers every primitive (its table is generated from the op library,
so it cannot drift) and every diagnostic code. SEDSL_UPDATE_GOLDEN=1 regenerates the table."""

from __future__ import annotations

import os
import re

from sedsl.check.checker import check_file
from sedsl.check.codes import CODES
from sedsl.language.names import RESERVED
from sedsl.ops.library import PRIMITIVES
from tests.language.conftest import ROOT

DOC = ROOT / "docs" / "language.md"
BEGIN, END = "<!-- primitives:begin -->", "<!-- primitives:end -->"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _default(value) -> str:
    text = str(value)  # a Dim prints as its expression
    return (
        f'"{value}"'
        if isinstance(value, str)
        else text.lower()
        if isinstance(value, bool)
        else text
    )


def primitive_table() -> str:
    rows = ["| op | signature | parameters | what it does |", "| --- | --- | --- | --- |"]
    for prim in PRIMITIVES.values():
        params = ", ".join(
            f"`{p.name}: {p.type}"
            + ("" if p.default is None else f" = {_default(p.default)}")
            + "`"
            for p in prim.params
        )
        rows.append(
            f"| `{prim.name}` | `{_cell(prim.signature)}` | {_cell(params) or '-'} "
            f"| {_cell(prim.doc.strip())} |"
        )
    return "\n".join(rows)


def test_primitive_table_is_generated_from_the_library():
    text = DOC.read_text(encoding="utf-8")
    head, rest = text.split(BEGIN)
    _, tail = rest.split(END)
    expected = f"{head}{BEGIN}\n{primitive_table()}\n{END}{tail}"
    if os.environ.get("SEDSL_UPDATE_GOLDEN") == "1":
        DOC.write_text(expected, encoding="utf-8")
    assert text == expected


def test_docs_mention_every_primitive_and_code():
    text = DOC.read_text(encoding="utf-8")
    for name in PRIMITIVES:
        assert f"`{name}`" in text, name
    for code in CODES:
        assert code in text, code


def test_reserved_names_listed_are_the_codes():
    """The list up front in docs/language.md is names.RESERVED, so it cannot drift."""
    text = DOC.read_text(encoding="utf-8")
    listed = text.split("<!-- reserved:begin -->")[1].split("<!-- reserved:end -->")[0]
    assert sorted(re.findall(r"`(\w+)`", listed)) == sorted(RESERVED)


def test_every_space_example_of_the_docs_checks_clean(tmp_path):
    """Each ```space example=NAME block of docs/language.md is a whole space: it checks."""
    text = DOC.read_text(encoding="utf-8")
    examples = re.findall(r"^```space example=(\w+)\n(.*?)^```$", text, re.M | re.S)
    assert examples
    for name, body in examples:
        path = tmp_path / f"{name}.space"
        path.write_text(body, encoding="utf-8")
        report = check_file(path)
        assert report.ok, (name, [f"{d.code} {d.message}" for d in report.diagnostics])
