"""The resolver in-process, one case per kind of size claim: each case's claim must hold
at a point where the space is right and fail, with its code, at one where it is wrong.

A claim that the resolver loses (as the block's result claim once was, whenever op-set
candidates had claims of their own) makes the bad point check clean and fails its case.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from sedsl.check.checker import check_space
from sedsl.diagnostics.diagnostic import Diagnostics
from sedsl.language.resolve import Resolver


@dataclass(frozen=True)
class Case:
    name: str
    code: str  # the code a failing claim of this kind is reported under
    source: str  # a space without its `check` line
    good: tuple[int, int, int]  # (C, H, W) where every claim holds
    bad: tuple[int, int, int]  # where this case's claim fails


HEADER = 'space t "resolver case"\n'
SQUEEZE = """
opset squeeze(x: [B, C, H, W]) -> [B, C, 1, 1] { keep = identity, avg_pool }
block b(x: [B, C, H, W]) -> [B, C, H, W] {
  s = squeeze(x)
  return x * s
}
"""
BROADCAST = """
param K: int = 16
block b(x: [B, C, H, W]) -> [B, C, H, W] {
  return x + conv2d(x, out=K)
}
"""
CONCAT = """
param T: int = 2
block b(x: [B, C, H, W]) -> [B, C, H, W] {
  return conv2d(concat(x, tile_pool(x, h=T, w=T)), out=C)
}
"""
PRECONDITION = """
param G: int = 4
block b(x: [B, C, H, W]) -> [B, C, H, W] {
  return conv2d(x, out=C, groups=G)
}
"""
EXACT_DIVISION = """
block b(x: [B, C, H, W]) -> [B, C, H, W] {
  return conv2d(x, out=C / 3 * 3)
}
"""
BLOCK_RESULT_AFTER_CANDIDATES = """
opset pick(x: [B, C, H, W]) -> [B, C, H, W] { c3 = conv2d(out=C, k=3), id = identity }
block b(x: [B, C, H, W]) -> [B, C, H, W] {
  y = pick(x)
  return conv2d(y, out=C // 2 * 2)
}
"""
OP_RESULT = """
op even(x: [B, C, H, W]) -> [B, C, H, W] = conv2d(x, out=C // 2 * 2)
block b(x: [B, C, H, W]) -> [B, C, H, W] {
  return even(x)
}
"""
OP_ARGUMENT = """
op square(x: [B, C, H, H]) -> [B, C, 1, 1] = avg_pool(x)
block b(x: [B, C, H, W]) -> [B, C, H, W] {
  return x * square(x)
}
"""
EDGE_INPUT = """
opset sq(x: [B, C, H, H]) -> [B, C, 1, 1] { a = avg_pool, m = max_pool }
block b(x: [B, C, H, W]) -> [B, C, H, W] {
  e = sq(x)
  return x * e
}
"""
CANDIDATE_ON_EDGE = """
opset grouped(x: [B, D, H, W]) -> [B, D, H, W] { g = conv2d(out=D, groups=4), id = identity }
block b(x: [B, C, H, W]) -> [B, C, H, W] {
  halves = split(x, parts=2)
  e = grouped(halves[0])
  return concat(e, halves[1])
}
"""
OP_PRECONDITION_AT_CALL = """
op grouped(x: [B, C, H, W], g: int = 4) -> [B, C, H, W] = conv2d(x, out=C, groups=g)
block b(x: [B, C, H, W]) -> [B, C, H, W] {
  return grouped(x, g=3)
}
"""

CASES = [
    Case("candidate_meets_signature", "E020", SQUEEZE, (16, 1, 1), (16, 8, 8)),
    Case("tensors_broadcast", "E021", BROADCAST, (16, 8, 8), (32, 8, 8)),
    Case("concat_agrees_except_channels", "E022", CONCAT, (16, 1, 1), (16, 8, 8)),
    Case("primitive_precondition", "E024", PRECONDITION, (16, 8, 8), (18, 8, 8)),
    Case("division_of_sizes_is_exact", "E026", EXACT_DIVISION, (18, 8, 8), (16, 8, 8)),
    Case("block_result", "E023", BLOCK_RESULT_AFTER_CANDIDATES, (16, 8, 8), (15, 8, 8)),
    Case("op_result_at_its_call", "E023", OP_RESULT, (16, 8, 8), (15, 8, 8)),
    Case("op_argument", "E023", OP_ARGUMENT, (16, 8, 8), (16, 8, 4)),
    Case("searched_edge_input", "E023", EDGE_INPUT, (16, 8, 8), (16, 8, 4)),
    # 12 channels: 12 % 4 == 0 on the set's own symbols, but the edge gets 6
    Case(
        "candidate_on_an_edge_with_other_sizes", "E024", CANDIDATE_ON_EDGE, (16, 8, 8), (12, 8, 8)
    ),
    Case(
        "op_precondition_with_call_parameters",
        "E024",
        OP_PRECONDITION_AT_CALL,
        (9, 8, 8),
        (8, 8, 8),
    ),
]


def _check(tmp_path: Path, source: str, point: tuple[int, int, int]) -> Diagnostics:
    path = tmp_path / "case.space"
    path.write_text(f"{HEADER}{source}\ncheck p (C, H, W) in [{point}]\n", encoding="utf-8")
    diagnostics = Diagnostics()
    space = Resolver(diagnostics, {}).run(path, "case.space")
    assert space is not None
    check_space(space, diagnostics)
    return diagnostics


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_claim_holds_where_the_space_is_right(tmp_path, case):
    diagnostics = _check(tmp_path, case.source, case.good)
    assert not diagnostics.has_errors, [(d.code, d.message) for d in diagnostics]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_claim_fails_with_its_code_where_the_space_is_wrong(tmp_path, case):
    diagnostics = _check(tmp_path, case.source, case.bad)
    errors = [d for d in diagnostics if d.is_error]
    assert errors and {d.code for d in errors} == {case.code}, [(d.code, d.message) for d in errors]
    assert all("fails at `p`" in d.message for d in errors)


def test_every_kind_of_claim_has_a_case():
    assert {c.code for c in CASES} == {"E020", "E021", "E022", "E023", "E024", "E026"}


def test_resolver_state_exists_from_construction():
    """No attribute appears only after some method ran."""
    resolver = Resolver(Diagnostics(), {})
    before = set(vars(resolver))
    path = Path(__file__).resolve().parents[2] / "spaces" / "hoga.space"
    resolver.run(path, "hoga.space")
    assert set(vars(resolver)) == before


def test_claims_come_back_as_values_of_the_space(tmp_path):
    """The block's result claim is in the space's claims, next to the candidates' own."""
    path = tmp_path / "case.space"
    path.write_text(HEADER + BLOCK_RESULT_AFTER_CANDIDATES, encoding="utf-8")
    space = Resolver(Diagnostics(), {}).run(path, "case.space")
    reasons = [c.condition.reason for c in space.claims]
    assert any("the block's result" in r for r in reasons), reasons
    assert any("output channel" in r for r in reasons), reasons
