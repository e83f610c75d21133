"""The buffer expressions in space.json agree with the primitives' buffer rules."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sedsl.check.checker import check_file
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
