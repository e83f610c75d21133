"""Every gating module timm's create_attn offers is a genotype of a shipped space and computes what
timm's module computes: weights copied from ours into timm's by an explicit name mapping (every
weight and BN statistic on both sides mapped), float64, at two sizes, in train mode (batch
statistics, and the running statistics they leave) and then in eval mode. The table lives in
tests/reach/timm_table.py; docs/coverage.md is generated from it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from torch import nn

from tests.codegen.helpers import ROOT
from tests.reach.compare import assert_computes_the_same, fixed_module, randomise
from tests.reach.timm_table import (
    BEGIN,
    END,
    NOT_YET,
    REPLACES_CONVOLUTIONS,
    ROWS,
    Row,
    coverage_table,
    timm_names,
)

SIZES = [(16, 8, 8), (32, 12, 10)]  # (C, H, W): the second not square
DOC = ROOT / "docs" / "coverage.md"


def ours(row: Row, c: int, h: int, w: int) -> nn.Module:
    return fixed_module(row.space, row.genotype, c, h, w)


@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
def test_equals_timm(row: Row):
    for seed, (c, h, w) in enumerate(row.sizes or SIZES):
        mine = randomise(ours(row, c, h, w), seed)
        assert_computes_the_same(mine, row.build(c).double(), row.names, (c, h, w), row.id)


@pytest.mark.parametrize("row", [r for r in ROWS if r.names], ids=[r.id for r in ROWS if r.names])
def test_widths_follow_timm(row: Row):
    """The hidden widths, written in the space as dim arithmetic for timm's make_divisible, give
    timm's parameter count at every channel count a network uses."""
    for c in (8, 16, 24, 40, 64, 88, 96, 136, 256, 512, 1024, 2048):
        mine = sum(p.numel() for p in ours(row, c, 7, 7).parameters())
        theirs = sum(p.numel() for p in row.build(c).parameters())
        assert mine == theirs, (row.id, c, mine, theirs)


def test_every_create_attn_name_is_covered_or_said_why_not():
    names = timm_names()
    assert len(names) == 21, names  # timm 1.0.31's list; a new name must be placed here
    covered = {row.timm for row in ROWS}
    pending = {name for name, _, _ in NOT_YET}
    placed = covered | pending | set(REPLACES_CONVOLUTIONS)
    assert set(names) == placed, sorted(set(names) ^ placed)


def test_coverage_doc_is_generated_from_the_table():
    text = DOC.read_text(encoding="utf-8")
    head, rest = text.split(BEGIN)
    _, tail = rest.split(END)
    expected = f"{head}{BEGIN}\n{coverage_table()}\n{END}{tail}"
    if os.environ.get("SEDSL_UPDATE_GOLDEN") == "1":
        DOC.write_text(expected, encoding="utf-8")
    assert text == expected
    for row in ROWS:
        assert Path(ROOT / "spaces" / f"{row.space}.space").is_file(), row.space
