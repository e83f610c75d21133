"""The buffer expressions in space.json agree with the primitives' buffer rules."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sedsl.check.checker import check_file
from sedsl.codegen.buffer import edge_buffers
from sedsl.cost.expr import evaluate
from sedsl.ops.library import PRIMITIVES
from sedsl.shapes.dims import Dim

ROOT = Path(__file__).resolve().parents[2]


def _manifest(space: str) -> dict:
    return json.loads((ROOT / "generated" / space / "space.json").read_text(encoding="utf-8"))


def _points(manifest: dict) -> list[dict[str, int]]:
    return [p for points in manifest["points"].values() for p in points]


def test_tse_tiles_match_the_tile_pool_rule():
    space = check_file(ROOT / "spaces/tse.space", {}, display="spaces/tse.space").space
    manifest = _manifest("tse")
    (edge,) = manifest["edges"]
    rule = PRIMITIVES["tile_pool"].buffer
    for cand in space.opset(edge["opset"]).candidates:
        params = dict(cand.params)
        for point in _points(manifest):
            env = {**space.param_env(), **point}
            th, tw = params["th"].evaluate(env), params["tw"].evaluate(env)
            shape = (Dim.const(1), *(Dim.const(point[k]) for k in "CHW"))
            expected = rule([shape], {"h": Dim.const(th), "w": Dim.const(tw)}).evaluate({})
            assert evaluate(edge["buffer"][cand.label], point) == expected, (cand.label, point)


def test_se_matches_the_global_pool_rule_and_plain_needs_none():
    manifest = _manifest("classic")
    (edge,) = manifest["edges"]
    rule = PRIMITIVES["avg_pool"].buffer
    for point in _points(manifest):
        shape = tuple(Dim.const(v) for v in (1, point["C"], point["H"], point["W"]))
        assert evaluate(edge["buffer"]["se"], point) == rule([shape], {"over": "hw"}).evaluate({})
        assert evaluate(edge["buffer"]["identity"], point) == 0


def test_tse_expressions_read_like_the_paper():
    buffers = _manifest("tse")["edges"][0]["buffer"]
    assert buffers["se"] == "C * H * W"
    assert buffers["rows_9"] == "C * W * min(9, H)"
    assert buffers["cols_5"] == "C * H * min(5, W)"


@pytest.mark.parametrize(
    "space", sorted(p.parent.name for p in ROOT.glob("generated/*/space.json"))
)
def test_every_manifest_has_evaluable_buffers(space):
    manifest = _manifest(space)
    assert set(manifest["buffer"]) == {"fixed", "combine"}
    env = {k: v for k, v in manifest["params"].items() if type(v) is int}
    for point in _points(manifest):
        evaluate(manifest["buffer"]["fixed"], {**env, **point})
        for edge in manifest["edges"]:
            assert set(edge["buffer"]) == set(edge["candidates"])
            for expr in edge["buffer"].values():
                assert evaluate(expr, {**env, **point}) >= 0


# Each rule at one use, the expected buffer worked out by hand from the rule's docstring in
# sedsl/ops/library.py: C = 8, H = 10, W = 6 (per sample, so the batch never counts).
RULES_SPACE = """space rules "one candidate per buffer rule"
op permuted(x: [B, C, H, W]) -> [B, C, H, W] {
  return permute(permute(x, "b c h w -> b h c w"), "b h c w -> b c h w")
}
op grouped(x: [B, C, H, W]) -> [B, C, H, W] {
  return reshape(reshape(x, "b c h w -> b c (h w)"), "b c (h w) -> b c h w", h=H)
}
op windowed(x: [B, C, H, W]) -> [B, C, H, W] = interpolate(window_pool(x, k=3, stride=2), x)
op strided(x: [B, C, H, W]) -> [B, C, H, W] = interpolate(conv2d(x, out=C, k=5, stride=2), x)
op same(x: [B, C, H, W]) -> [B, C, H, W] = conv2d(x, out=C, k=5)
op product(x: [B, C, H, W]) -> [B, C, H, W] {
  return x * matmul(avg_pool(x, over="w"), avg_pool(x, over="h"))
}
op halves(x: [B, C, H, W]) -> [B, C, H, W] {
  parts = split(x, along="c", parts=2)
  return concat(parts[1], parts[0])
}
opset pick(x: [B, C, H, W]) -> [B, C, H, W] {
  permuted = permuted, grouped = grouped, windowed = windowed, strided = strided,
  same = same, product = product, halves = halves,
}
block b(x: [B, C, H, W]) -> [B, C, H, W] {
  s = pick(x)
  return s
}
check one (C, H, W) in [(8, 10, 6)]
"""

EXPECTED_AT_8_10_6 = {
    "permuted": 8 * 10 * 6,  # moving axes holds the whole tensor
    "grouped": 0,  # grouping keeps the streamed order
    # window_pool holds k=3 rows (C * 3 * W); interpolate then emits from one row, C * W
    "windowed": 8 * 3 * 6,
    "strided": 8 * 5 * 6,  # a strided conv gathers kh=5 rows, C * min(5, H) * W
    "same": 0,  # a stride-1 conv is a local map
    # matmul of [C, H, 1] and [C, 1, W] sees each operand whole: max(C * H, C * W); the
    # poolings before it hold their whole input, C * H * W, which dominates
    "product": 8 * 10 * 6,
    "halves": 0,  # each part is a run of the stream; concat holds nothing either
}


def test_each_rule_gives_its_hand_worked_buffer(tmp_path):
    path = tmp_path / "rules.space"
    path.write_text(RULES_SPACE, encoding="utf-8")
    report = check_file(path, {}, display="rules.space")
    assert not report.diagnostics.has_errors, [d.message for d in report.diagnostics]
    space = report.space
    (edge,) = space.block.edges
    buffers = edge_buffers(space, edge)
    point = {"C": 8, "H": 10, "W": 6}
    assert {label: evaluate(expr, point) for label, expr in buffers.items()} == EXPECTED_AT_8_10_6


def _shape(*sizes: int) -> tuple[Dim, ...]:
    return tuple(Dim.const(s) for s in sizes)


@pytest.mark.parametrize(
    ("prim", "shapes", "params", "expected"),
    [
        # a product sees each operand whole: the larger of the two, per sample
        ("matmul", [_shape(1, 8, 10, 6), _shape(1, 8, 6, 3)], {}, 8 * 10 * 6),
        ("matmul", [_shape(1, 2, 3, 4), _shape(1, 2, 4, 9)], {}, 2 * 4 * 9),
        # a window taller than the map holds the whole map
        ("window_pool", [_shape(1, 4, 2, 5)], {"k": Dim.const(3)}, 4 * 2 * 5),
        ("interpolate", [_shape(1, 4, 2, 5), _shape(1, 4, 8, 20)], {}, 4 * 5),
        ("permute", [_shape(1, 3, 4, 5)], {"pattern": "b c h w -> b w h c"}, 3 * 4 * 5),
        ("reshape", [_shape(1, 3, 4, 5)], {"pattern": "b c h w -> b (c h) w"}, 0),
    ],
)
def test_rule_values_by_hand(prim, shapes, params, expected):
    assert PRIMITIVES[prim].buffer(shapes, params).evaluate({}) == expected
