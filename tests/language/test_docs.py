"""docs/language.md covers every primitive (its table is generated from the op library,
so it cannot drift) and every diagnostic code. SEDSL_UPDATE_GOLDEN=1 regenerates the table."""

from __future__ import annotations

import os

from sedsl.check.codes import CODES
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
