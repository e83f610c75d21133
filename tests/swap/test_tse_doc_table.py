"""docs/tse.md's Table 1 comparison: its sedsl columns are what `sedsl cost` measures now.

Each row of the table between the markers names a genotype of generated/tse (or `plain`,
the network without SE); this test recomputes that row's sedsl cells with the cost code and
compares them with the doc, so the doc cannot drift from the code. On a mismatch the
message gives the row as it should read."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sedsl.cost.report import cost

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "tse.md"
TSE = ROOT / "generated" / "tse"
BEGIN, END = "<!-- table-1:begin -->", "<!-- table-1:end -->"
PAPER_VANILLA = 796.35  # Table 1's MFLOPs without SE


def table_rows() -> list[list[str]]:
    text = DOC.read_text(encoding="utf-8")
    assert BEGIN in text and END in text, f"{DOC} lost its table markers"
    block = text.split(BEGIN, 1)[1].split(END, 1)[0]
    lines = [line for line in block.splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[2:]]


def sedsl_cells(genotype: str) -> list[str]:
    """params, network MMACs and the attention's MMACs, as the doc prints them."""
    report = cost(TSE, "se" if genotype == "plain" else genotype, "regnet_y_800mf")
    totals = report.plain if genotype == "plain" else report.network
    delta = 0 if genotype == "plain" else report.attention.macs
    return [f"{totals.params:,}", f"{totals.macs / 1e6:.2f}", f"+{delta / 1e6:.2f}"]


ROWS = table_rows()
GENOTYPE = re.compile(r"`(\w+)`")


def test_the_table_has_every_row_of_table_1():
    assert len(ROWS) == 21
    names = {m.group(1) for row in ROWS if (m := GENOTYPE.fullmatch(row[1]))}
    assert names >= {"plain", "se", "rows_7", "cols_1", "patch_13", "patch_1"}


@pytest.mark.parametrize("row", ROWS, ids=[r[0] for r in ROWS])
def test_paper_delta_is_its_mflops_minus_vanilla(row):
    assert row[4] == f"+{float(row[3]) - PAPER_VANILLA:.2f}"


@pytest.mark.parametrize(
    "row", [r for r in ROWS if GENOTYPE.fullmatch(r[1])], ids=lambda r: r[1].strip("`")
)
def test_sedsl_columns_are_the_cost_codes(row):
    genotype = GENOTYPE.fullmatch(row[1]).group(1)
    expected = sedsl_cells(genotype)
    assert row[5:8] == expected, "| " + " | ".join(row[:5] + expected) + " |"
