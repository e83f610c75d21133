"""The checker is only right if the generated code agrees with it.

For every generated space and every instantiation point declared in its `space.json`, build the
real `SupernetBlock`, run it (batch 1, eval mode: only shapes matter), and compare with the shapes
the checker inferred symbolically. Candidates are observed in the reference supernet
(`--supernet reference`), where each is a module DARTS' MixedOp calls; the compiled one
(generated/, which test_compiled.py proves equal to it) is checked at its edges and output:

- every edge's input with `EdgeIR.input`;
- every candidate's output with `CandidateIR.result` (written in its op set's signature, bound to
  this edge's input), and every MixedOp's output with `OpSetIR.result`;
- the block's output with `BlockIR.result`.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from sedsl.check.checker import check_file
from sedsl.language import ir
from sedsl.shapes.dims import Dim
from tests.codegen.helpers import (
    GENERATED_SPACES,
    ROOT,
    load_generated,
    manifest,
    reference_supernet,
)

BATCH = 1
# Points larger than this (C * H * W) are skipped to keep the suite fast on 2 cores: that drops
# the first three ResNet-50 stages (256x56x56 .. 1024x14x14) and keeps every CIFAR point, the
# last ResNet-50 stage (2048x7x7) and the small RegNetY stages.
MAX_ELEMENTS = 2**17


def cases() -> list:
    found = []
    for space in GENERATED_SPACES:
        for set_name, points in manifest(space)["points"].items():
            for point in points:
                size = point["C"] * point["H"] * point["W"]
                marks = [pytest.mark.skip(reason=f"C*H*W = {size} > {MAX_ELEMENTS}")]
                found.append(
                    pytest.param(
                        space,
                        set_name,
                        point,
                        id=f"{space}-{set_name}-{'x'.join(map(str, point.values()))}",
                        marks=marks if size > MAX_ELEMENTS else [],
                    )
                )
    return found


def evaluate(shape: tuple[Dim, ...], env: dict) -> tuple[int, ...]:
    values = [d.evaluate(env) for d in shape]
    assert all(v.denominator == 1 for v in values), (shape, env)
    return tuple(int(v) for v in values)


def candidate_env(opset: ir.OpSetIR, edge_input: tuple[int, ...], params: dict) -> dict:
    """The op set's signature symbols bound to this edge's actual input sizes."""
    env = dict(params)
    for declared, actual in zip(opset.input, edge_input, strict=True):
        if len(declared.symbols()) == 1 and str(declared) in declared.symbols():
            env[str(declared)] = actual
        else:  # a constant or an expression in the signature must match as it is
            assert declared.evaluate(env) == actual, (opset.name, declared, actual)
    return env


_CHECKED: dict[str, ir.SpaceIR] = {}


def checked_space(space: str) -> ir.SpaceIR:
    if space not in _CHECKED:
        source = ROOT / manifest(space)["source"]
        report = check_file(Path(source))
        assert report.ok, [str(d) for d in report.diagnostics.sorted()]
        _CHECKED[space] = report.space
    return _CHECKED[space]


@pytest.mark.parametrize(("space", "point_set", "point"), cases())
def test_real_shapes_match_the_checkers(space, point_set, point, tmp_path_factory):
    space_ir = checked_space(space)
    compiled, _ = load_generated(space)
    supernet = reference_supernet(space, tmp_path_factory.getbasetemp() / "reference")
    params = space_ir.param_env()
    env = {**params, **point, "B": BATCH}
    x = torch.randn(BATCH, point["C"], point["H"], point["W"])
    edges = {edge.py: edge for edge in space_ir.block.edges}

    compiled_block = compiled.SupernetBlock(point["C"], point["H"], point["W"], compiled.Alphas())
    compiled_seen = {}

    def record_compiled(name):
        def hook(_module, inputs, output):  # returns None: the output is left as it is
            compiled_seen[name] = (tuple(inputs[0].shape), tuple(output.shape))

        return hook

    for name in edges:
        getattr(compiled_block, name).register_forward_hook(record_compiled(name))
    with torch.no_grad():
        assert tuple(compiled_block.eval()(x).shape) == evaluate(space_ir.block.result, env)

    torch.manual_seed(0)
    alphas = supernet.Alphas()
    block = supernet.SupernetBlock(point["C"], point["H"], point["W"], alphas).eval()

    seen: dict[tuple[str, int | None], tuple[tuple[int, ...], tuple[int, ...]]] = {}

    def record(key):
        def hook(_module, inputs, output):
            seen[key] = (tuple(inputs[0].shape), tuple(output.shape))

        return hook

    assert tuple(edges) == tuple(supernet.EDGES)
    for name in edges:
        mixed = getattr(block, name)
        mixed.register_forward_hook(record((name, None)))
        for index, candidate in enumerate(mixed.candidates):
            candidate.register_forward_hook(record((name, index)))

    with torch.no_grad():
        y = block(x)
    assert tuple(y.shape) == evaluate(space_ir.block.result, env)

    compared = 0
    for name, edge in edges.items():
        opset = space_ir.opset(edge.opset)
        assert [c.label for c in opset.candidates] == list(supernet.CANDIDATES[name])
        edge_input = evaluate(edge.input, env)
        cenv = candidate_env(opset, edge_input, params)
        real_in, real_out = seen[(name, None)]
        assert real_in == edge_input, f"{name}: input {real_in}, checker {edge_input}"
        assert real_out == evaluate(opset.result, cenv), f"{name}: output {real_out}"
        assert compiled_seen[name] == (real_in, real_out), name
        for index, cand in enumerate(opset.candidates):
            real_in, real_out = seen[(name, index)]
            inferred = evaluate(cand.result, cenv)
            assert real_in == edge_input
            assert real_out == inferred, (
                f"{space} {point}: edge {edge.name}, candidate {cand.label}: "
                f"real {real_out}, checker {inferred}"
            )
            compared += 1
    assert compared == sum(len(c) for c in supernet.CANDIDATES.values())
