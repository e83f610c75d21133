"""The axis constructs (permute, reshape, rearrange, reductions over chosen axes, softmax over
chosen axes, matmul): for each, the checker's symbolic shape equals the shape the generated
module produces, and the value equals torch written by hand, at points where C, H and W all
differ (a swapped axis shows). Bad uses are diagnostics with a code, never a traceback."""

from __future__ import annotations

import importlib
import sys

import pytest
import torch

from sedsl.check.checker import check_file
from sedsl.codegen.generate import render_space, write_space

POINTS = [(4, 6, 5), (3, 2, 7), (6, 5, 5)]

# name: (expression of x, the declared result shape, torch by hand)
CASES = {
    "permute_ch": (
        'permute(x, "b c h w -> b h c w")',
        "[B, H, C, W]",
        lambda x: x.transpose(1, 2),
    ),
    "permute_cw": (
        'permute(x, "b c h w -> b w h c")',
        "[B, W, H, C]",
        lambda x: x.transpose(1, 3),
    ),
    "permute_keyword": (
        'permute(x, pattern="b c h w -> b c w h")',
        "[B, C, W, H]",
        lambda x: x.transpose(2, 3),
    ),
    "flatten": (
        'reshape(x, "b c h w -> b c (h w)")',
        "[B, C, H * W]",
        lambda x: x.reshape(x.shape[0], x.shape[1], -1),
    ),
    "unflatten": (
        'reshape(reshape(x, "b c h w -> b c (h w)"), "b c (h w) -> b c h w", w=W)',
        "[B, C, H, W]",
        lambda x: x,
    ),
    "unit_axes": (
        'reshape(reshape(x, "b c h w -> b 1 c h w"), "b 1 c h w -> b c h w 1")',
        "[B, C, H, W, 1]",
        lambda x: x.unsqueeze(-1),
    ),
    "rearrange": (
        'rearrange(x, "b c h w -> b (h w) c")',
        "[B, H * W, C]",
        lambda x: x.flatten(2).transpose(1, 2),
    ),
    "rearrange_back": (
        'rearrange(rearrange(x, "b c h w -> b (h w) c"), "b (h w) c -> b c h w", h=H)',
        "[B, C, H, W]",
        lambda x: x,
    ),
    "mean_h": ('mean(x, over="h")', "[B, C, 1, W]", lambda x: x.mean(2, keepdim=True)),
    "sum_hw": ('sum(x, over="2, 3")', "[B, C, 1, 1]", lambda x: x.sum((2, 3), keepdim=True)),
    "max_cw": (
        'max_pool(x, over="cw")',
        "[B, 1, H, 1]",
        lambda x: x.amax((1, 3), keepdim=True),
    ),
    "avg_last": ("avg_pool(x, over=-1)", "[B, C, H, 1]", lambda x: x.mean(-1, keepdim=True)),
    "std_w": (
        'std_pool(x, over="w", unbiased=false)',
        "[B, C, H, 1]",
        lambda x: (x.var(3, unbiased=False, keepdim=True) + 1e-10).sqrt(),
    ),
    "mean_rank3": (
        'mean(reshape(x, "b c h w -> b c (h w)"), over=-1)',
        "[B, C, 1]",
        lambda x: x.flatten(2).mean(-1, keepdim=True),
    ),
    "softmax_hw": (
        'softmax(x, over="hw")',
        "[B, C, H, W]",
        lambda x: x.flatten(2).softmax(-1).reshape(x.shape),
    ),
    "softmax_c": ('softmax(x, over="c")', "[B, C, H, W]", lambda x: x.softmax(1)),
    "softmax_apart": (
        'softmax(x, over="1, 3")',
        "[B, C, H, W]",
        lambda x: (
            x.transpose(1, 2)
            .flatten(2)
            .softmax(-1)
            .reshape(x.shape[0], x.shape[2], x.shape[1], x.shape[3])
            .transpose(1, 2)
        ),
    ),
    "matmul": (
        'matmul(reshape(x, "b c h w -> b c (h w)"), rearrange(x, "b c h w -> b (h w) c"))',
        "[B, C, C]",
        lambda x: torch.bmm(x.flatten(2), x.flatten(2).transpose(1, 2)),
    ),
    "matmul_4d": (
        'matmul(permute(x, "b c h w -> b c w h"), x)',
        "[B, C, W, W]",
        lambda x: x.transpose(2, 3) @ x,
    ),
    "gc_context": (
        'sum(x * softmax(mean(x, over="c"), over="hw"), over="hw")',
        "[B, C, 1, 1]",
        lambda x: torch.einsum(
            "bcn,bn->bc", x.flatten(2), x.mean(1).flatten(1).softmax(-1)
        ).reshape(x.shape[0], -1, 1, 1),
    ),
}


def space_source(expr: str, result: str) -> str:
    points = ", ".join(f"({c}, {h}, {w})" for c, h, w in POINTS)
    return (
        'space construct "one construct"\n'
        f"op f(x: [B, C, H, W]) -> {result} = {expr}\n"
        f"opset e(x: [B, C, H, W]) -> {result} {{ f }}\n"
        f"block construct(x: [B, C, H, W]) -> {result} {{\n  y = e(x)\n  return y\n}}\n"
        f"check points (C, H, W) in [{points}]\n"
        "genotype g { y = f }\n"
    )


def generated(tmp_path, name: str, source: str):
    path = tmp_path / f"{name}.space"
    path.write_text(source, encoding="utf-8")
    report = check_file(path)
    assert report.ok, [str(d) for d in report.diagnostics]
    out = write_space(render_space(report.space), tmp_path / "generated", "construct")
    spec = importlib.util.spec_from_file_location(
        f"construct_{name}", out / "__init__.py", submodule_search_locations=[str(out)]
    )
    package = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = package
    spec.loader.exec_module(package)
    return report.space, importlib.import_module(f"{spec.name}.fixed")


def supernet_of(name: str):
    """supernet.py of the package `generated` imported for `name`."""
    return importlib.import_module(f"construct_{name}.supernet")


@pytest.mark.parametrize("name", list(CASES))
def test_checker_shape_and_torch_value_agree_with_the_generated_module(name, tmp_path):
    expr, result, reference = CASES[name]
    space, fixed = generated(tmp_path, name, space_source(expr, result))
    torch.manual_seed(0)
    for c, h, w in POINTS:
        env = {"B": 2, "C": c, "H": h, "W": w}
        inferred = tuple(int(d.evaluate(env)) for d in space.block.result)
        block = fixed.build_fixed({"y": "f"}, c, h, w).double()
        x = torch.randn(2, c, h, w, dtype=torch.float64)
        y = block(x)
        assert tuple(y.shape) == inferred, (name, (c, h, w))
        torch.testing.assert_close(y, reference(x), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", list(CASES))
def test_the_compiled_supernet_computes_the_construct(name, tmp_path):
    """The compiled edge renders every argument as [B, C, H, W]; a construct whose code
    depends on the rank or names other axes must still compute the right value there."""
    expr, result, reference = CASES[name]
    generated(tmp_path, name, space_source(expr, result))
    supernet = supernet_of(name)
    for c, h, w in POINTS:
        block = supernet.SupernetBlock(c, h, w, supernet.Alphas()).double()
        x = torch.randn(2, c, h, w, dtype=torch.float64)
        torch.testing.assert_close(block(x), reference(x), rtol=1e-10, atol=1e-12)


BAD = {
    # expression, result, code, words of the message
    "permute_groups": (
        'permute(x, "b c h w -> b c (h w)")',
        "[B, C, H * W]",
        "E012",
        "permute moves axes",
    ),
    "reshape_moves": (
        'reshape(x, "b c h w -> b h c w")',
        "[B, H, C, W]",
        "E012",
        "reshape keeps the order",
    ),
    "drops_axis": ('permute(x, "b c h w -> b c h")', "[B, C, H]", "E012", "never dropped"),
    "rank": ('permute(x, "b c h -> b h c")', "[B, H, C]", "E012", "has 3 axes, the input has 4"),
    "batch_moves": ('permute(x, "b c h w -> c b h w")', "[C, B, H, W]", "E012", "batch axis"),
    "two_unknown": (
        'reshape(reshape(x, "b c h w -> b c (h w)"), "b c (h w) -> b c h w")',
        "[B, C, H, W]",
        "E012",
        "all but one",
    ),
    "stray_size": (
        'reshape(x, "b c h w -> b c (h w)", k=2)',
        "[B, C, H * W]",
        "E012",
        "`k` is not an axis",
    ),
    "no_arrow": ('permute(x, "b c h w")', "[B, C, H, W]", "E012", "input axes -> output axes"),
    "over_batch": ('mean(x, over="b")', "[B, C, H, W]", "E012", "batch axis"),
    "over_letters_rank3": (
        'softmax(reshape(x, "b c h w -> b c (h w)"), over="hw")',
        "[B, C, H * W]",
        "E012",
        "rank 3",
    ),
    "over_range": ("softmax(x, over=4)", "[B, C, H, W]", "E012", "out of range"),
    "over_two_tensors": ('sum(x, x, over="hw")', "[B, C, 1, 1]", "E013", "reduces one tensor"),
    "matmul_contract": (
        'matmul(reshape(x, "b c h w -> b c (h w)"), reshape(x, "b c h w -> b c (h w)"))',
        "[B, C, C]",
        "E024",
        "matmul contracts equal axes",
    ),
}


@pytest.mark.parametrize("name", list(BAD))
def test_a_bad_use_is_a_diagnostic(name, tmp_path):
    expr, result, code, words = BAD[name]
    path = tmp_path / f"{name}.space"
    path.write_text(space_source(expr, result), encoding="utf-8")
    report = check_file(path)
    assert not report.ok
    found = [d for d in report.diagnostics if d.code == code]
    assert found and any(words in d.message for d in found), [
        f"{d.code} {d.message}" for d in report.diagnostics
    ]
