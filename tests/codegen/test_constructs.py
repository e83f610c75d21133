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
    "interpolate_nearest": (
        "interpolate(tile_pool(x, h=2, w=3), x)",
        "[B, C, H, W]",
        lambda x: nearest(torch.nn.functional.avg_pool2d(x, (2, 3), ceil_mode=True), x),
    ),
    "interpolate_bilinear": (
        'x * interpolate(max_pool(x, over="w"), x, mode="bilinear")',
        "[B, C, H, W]",
        lambda x: x * x.amax(3, keepdim=True),  # one column: bilinear is a broadcast
    ),
    "concat_h": (
        'concat(x, max_pool(x, over="h"), along="h")',
        "[B, C, H + 1, W]",
        lambda x: torch.cat([x, x.amax(2, keepdim=True)], 2),
    ),
    "concat_last": (
        "concat(x, x, along=-1)",
        "[B, C, H, 2 * W]",
        lambda x: torch.cat([x, x], 3),
    ),
    "narrow_w": (
        'narrow(x, along="w", start=1, length=W - 1)',
        "[B, C, H, W - 1]",
        lambda x: x[..., 1:],
    ),
    "window_avg": (
        "window_pool(x, k=3, stride=2)",
        "[B, C, ceil(H / 2), ceil(W / 2)]",
        lambda x: torch.nn.functional.avg_pool2d(x, 3, 2, 1, count_include_pad=False),
    ),
    "window_max_5": (
        'window_pool(x, k=5, stride=3, mode="max")',
        "[B, C, ceil(H / 3), ceil(W / 3)]",
        lambda x: torch.nn.functional.max_pool2d(x, 5, 3, 2),
    ),
    "scalar_literals": (  # numbers mixed with tensors, as BAM's 1 + sigmoid
        'x * (1 + sigmoid(mean(x, over="hw"))) - 0.5 * x',
        "[B, C, H, W]",
        lambda x: x * (1 + torch.sigmoid(x.mean((2, 3), keepdim=True))) - 0.5 * x,
    ),
    "scale": (
        "scale(x, by=H * W, power=-0.5)",
        "[B, C, H, W]",
        lambda x: x / (x.shape[2] * x.shape[3]) ** 0.5,
    ),
    "split_at_channels": (
        "concat(split(x, at=C // 2)[1], split(x, at=C // 2)[0])",
        "[B, C, H, W]",
        lambda x: torch.cat([x[:, x.shape[1] // 2 :], x[:, : x.shape[1] // 2]], 1),
    ),
    "split_at_last": (
        'split(x, along="w", at=W - 1)[0] * 2',
        "[B, C, H, W - 1]",
        lambda x: x[..., :-1] * 2,
    ),
    "split_parts_h": (  # the inverse of concat: parts of a map stacked with itself
        'split(concat(x, 2 * x, along="h"), along="h", parts=2)[1]',
        "[B, C, H, W]",
        lambda x: 2 * x,
    ),
    "split_strips": (  # coordinate attention's strips, stacked along H and cut apart again
        'split(concat(mean(x, over="w"), permute(mean(x, over="h"), "b c h w -> b c w h"), '
        'along="h"), along="h", at=H)[1]',
        "[B, C, W, 1]",
        lambda x: x.mean(2, keepdim=True).transpose(2, 3),
    ),
}


def nearest(y, x):
    """Nearest resize by index, as torch defines it: out[i] = y[floor(i * h / H)]."""
    rows = torch.arange(x.shape[2]) * y.shape[2] // x.shape[2]
    cols = torch.arange(x.shape[3]) * y.shape[3] // x.shape[3]
    return y[:, :, rows][:, :, :, cols]


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
    package = import_package(out, f"construct_{name}")
    return report.space, importlib.import_module(f"{package}.fixed")


def import_package(root, package: str) -> str:
    """Imports the generated package at `root` as `package` (its `from .ops` works)."""
    spec = importlib.util.spec_from_file_location(
        package, root / "__init__.py", submodule_search_locations=[str(root)]
    )
    sys.modules[package] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sys.modules[package])
    return package


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
    "interpolate_one": ("interpolate(x)", "[B, C, H, W]", "E013", "takes 2 tensor inputs"),
    "interpolate_rank3": (
        'interpolate(reshape(x, "b c h w -> b c (h w)"), x)',
        "[B, C, H, W]",
        "E023",
        "rank 4",
    ),
    "interpolate_mode": ('interpolate(x, x, mode="linear")', "[B, C, H, W]", "E012", "one of"),
    "split_both": ("split(x, parts=2, at=1)[0]", "[B, C / 2, H, W]", "E016", "not both"),
    "split_neither": ("split(x)[0]", "[B, C, H, W]", "E016", "not neither"),
    "split_uneven": (
        'split(x, along="w", parts=2)[0]',
        "[B, C, H, W / 2]",
        "E024",
        "split needs the size along W to divide evenly",
    ),
    "split_empty_part": (
        'split(x, along="h", at=H)[0]',
        "[B, C, H, W]",
        "E024",
        "after the cut",
    ),
    "split_symbolic_parts": ("split(x, parts=C)[0]", "[B, 1, H, W]", "E017", "constant"),
    "split_past_the_end": ("split(x, at=1)[2]", "[B, 1, H, W]", "E019", ""),
    "split_two_axes": ('split(x, along="hw", parts=2)[0]', "[B, C, H, W]", "E012", "one axis"),
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


# ---- strided convolution -------------------------------------------------------------------
# Points where H and W are odd and even (ceil and floor differ) and the strided maps are not
# square; each conv's value is torch's F.conv2d with the generated module's own weights.

CONV_POINTS = [(4, 7, 6), (3, 5, 9), (2, 8, 8)]

# name: (expression, result shape, the F.conv2d keywords of each conv, in call order)
CONV_CASES = {
    "depthwise_stride2": (
        "conv2d(x, out=C, k=3, stride=2, groups=C)",
        "[B, C, ceil(H / 2), ceil(W / 2)]",
        [{"stride": 2, "padding": 1, "groups": "C"}],
    ),
    "gather_extent4": (  # GatherExcite's gather at extent 4: two depthwise k=3 stride 2
        "conv2d(relu(conv2d(x, out=C, k=3, stride=2, groups=C)), out=C, k=3, stride=2, groups=C)",
        "[B, C, ceil(ceil(H / 2) / 2), ceil(ceil(W / 2) / 2)]",
        [{"stride": 2, "padding": 1, "groups": "C"}] * 2,
    ),
    "stride3_k5": (
        "conv2d(x, out=2, k=5, stride=3)",
        "[B, 2, ceil(H / 3), ceil(W / 3)]",
        [{"stride": 3, "padding": 2}],
    ),
    "padding_0": (
        "conv2d(x, out=C, k=3, stride=2, padding=0)",
        "[B, C, (H - 3) // 2 + 1, (W - 3) // 2 + 1]",
        [{"stride": 2, "padding": 0}],
    ),
    "patch_even_kernel": (
        "conv2d(x, out=3, kh=2, kw=4, stride=2, padding=1, bias=true)",
        "[B, 3, H // 2 + 1, (W - 2) // 2 + 1]",
        [{"stride": 2, "padding": 1}],
    ),
}


def conv_space(expr: str, result: str) -> str:
    return space_source(expr, result).replace(
        ", ".join(f"({c}, {h}, {w})" for c, h, w in POINTS),
        ", ".join(f"({c}, {h}, {w})" for c, h, w in CONV_POINTS),
    )


def by_hand(block, x, calls, channels):
    """The convs of `block` in order, each run as F.conv2d with its own weights (ReLU
    between two, as in the gather)."""
    convs = [m for m in block.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == len(calls)
    for i, (conv, kw) in enumerate(zip(convs, calls, strict=True)):
        groups = channels if kw.get("groups") == "C" else 1
        call = {**kw, "groups": groups}
        x = torch.nn.functional.conv2d(x, conv.weight, conv.bias, **call)
        if i < len(calls) - 1:
            x = torch.relu(x)
    return x


@pytest.mark.parametrize("name", list(CONV_CASES))
def test_strided_conv_shape_and_value(name, tmp_path):
    expr, result, calls = CONV_CASES[name]
    space, fixed = generated(tmp_path, name, conv_space(expr, result))
    torch.manual_seed(0)
    for c, h, w in CONV_POINTS:
        env = {"B": 2, "C": c, "H": h, "W": w}
        inferred = tuple(int(d.evaluate(env)) for d in space.block.result)
        block = fixed.build_fixed({"y": "f"}, c, h, w).double()
        x = torch.randn(2, c, h, w, dtype=torch.float64)
        y = block(x)
        assert tuple(y.shape) == inferred, (name, (c, h, w))
        torch.testing.assert_close(y, by_hand(block, x, calls, c), rtol=1e-9, atol=1e-12)


def test_depthwise_stride2_is_timms_gather_conv(tmp_path):
    """timm's GatherExcite (extra_params, extent 2) gathers with create_conv2d(C, C, 3,
    stride=2, depthwise=True): the same module, weights copied, the same output."""
    layers = pytest.importorskip("timm.layers")
    _, fixed = generated(tmp_path, "timm_dw", conv_space(*CONV_CASES["depthwise_stride2"][:2]))
    for c, h, w in CONV_POINTS:
        block = fixed.build_fixed({"y": "f"}, c, h, w).double()
        timm_conv = layers.create_conv2d(c, c, 3, stride=2, depthwise=True).double()
        (ours,) = [m for m in block.modules() if isinstance(m, torch.nn.Conv2d)]
        timm_conv.load_state_dict(ours.state_dict())
        x = torch.randn(2, c, h, w, dtype=torch.float64)
        torch.testing.assert_close(block(x), timm_conv(x), rtol=1e-12, atol=1e-12)


def test_strided_convs_of_one_input_are_not_stacked(tmp_path):
    """The compiled supernet stacks convs of one input into one 'same' conv at stride 1
    (sedsl/codegen/compile.py); strided ones, or ones with their own padding, run on their
    own, and the compiled block equals the reference (MixedOp) block."""
    source = conv_space("conv2d(x, out=2, k=3, stride=2)", "[B, 2, ceil(H / 2), ceil(W / 2)]")
    source = source.replace(
        "{ f }", "{ f, k5 = conv2d(out=2, k=5, stride=2), p1 = conv2d(out=2, k=1, stride=2) }"
    )
    space, _ = generated(tmp_path, "stacked", source)
    compiled = supernet_of("stacked")
    root = write_space(render_space(space, "reference"), tmp_path / "reference", "construct")
    reference = importlib.import_module(f"{import_package(root, 'stacked_ref')}.supernet")
    for c, h, w in CONV_POINTS:
        torch.manual_seed(0)
        alphas = compiled.Alphas().double()
        ours = compiled.SupernetBlock(c, h, w, alphas).double()
        theirs = reference.SupernetBlock(c, h, w, alphas).double()
        theirs.load_state_dict(ours.state_dict())
        torch.nn.init.normal_(alphas.alphas["y"])
        x = torch.randn(2, c, h, w, dtype=torch.float64)
        torch.testing.assert_close(ours(x), theirs(x), rtol=1e-10, atol=1e-12)
        assert ours(x).shape[-2:] == (-(-h // 2), -(-w // 2))


CONV_BAD = {
    "stride_0": ("conv2d(x, out=C, k=3, stride=0)", "[B, C, H, W]", "stride is at least 1"),
    "kernel_over_input": (
        "conv2d(x, out=C, k=9, padding=0)",
        "[B, C, H - 8, W - 8]",
        "must hold the kernel",
    ),
    "even_same": (
        "conv2d(x, out=C, k=2, stride=2)",
        "[B, C, ceil(H / 2), ceil(W / 2)]",
        "must be odd",
    ),
    "wrong_declared": (
        "conv2d(x, out=C, k=3, stride=2)",
        "[B, C, H // 2, W // 2]",
        "the result of op `f`",
    ),
}


@pytest.mark.parametrize("name", list(CONV_BAD))
def test_a_bad_strided_conv_is_a_diagnostic(name, tmp_path):
    expr, result, words = CONV_BAD[name]
    path = tmp_path / f"{name}.space"
    path.write_text(conv_space(expr, result), encoding="utf-8")
    report = check_file(path)
    assert not report.ok
    assert any(d.code.startswith("E") and words in d.message for d in report.diagnostics), [
        f"{d.code} {d.message}" for d in report.diagnostics
    ]


def timm_gather_excite(layers, channels: int, extent: int) -> torch.nn.Module:
    """timm 1.0.31's GatherExcite(extra_params=True, use_mlp=False), transcribed from
    gather_excite.py (its constructor raises TypeError there: `*dd` where `**dd` is meant),
    built from timm's own create_conv2d."""
    gather = torch.nn.Sequential()
    for i in range(extent.bit_length() - 1):  # log2(extent) convs
        if i:
            gather.append(torch.nn.ReLU())
        gather.append(layers.create_conv2d(channels, channels, 3, stride=2, depthwise=True))
        gather.append(torch.nn.BatchNorm2d(channels))

    class GatherExcite(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.gather = gather

        def forward(self, x):
            x_ge = torch.nn.functional.interpolate(self.gather(x), size=x.shape[-2:])
            return x * torch.sigmoid(x_ge)

    return GatherExcite()


@pytest.mark.parametrize("extent", [2, 4])
@pytest.mark.parametrize("train", [False, True])
def test_gather_excite_with_params_is_timms(extent, train, tmp_path):
    """GatherExcite with parameters at extent 2 and 4: depthwise k=3 stride-2 convs with
    BN (ReLU between), nearest back to x's size, sigmoid gate; the same output as timm's,
    weights copied, at sizes where ceil and floor differ."""
    layers = pytest.importorskip("timm.layers")
    stage = "bn(conv2d({}, out=C, k=3, stride=2, groups=C))"
    gather = stage.format("x")
    for _ in range(extent // 4):
        gather = stage.format(f"relu({gather})")
    expr = f"x * sigmoid(interpolate({gather}, x))"
    _, fixed = generated(tmp_path, f"ge{extent}{train}", conv_space(expr, "[B, C, H, W]"))
    kinds = torch.nn.Conv2d | torch.nn.BatchNorm2d
    for c, h, w in CONV_POINTS:
        torch.manual_seed(1)
        ours = fixed.build_fixed({"y": "f"}, c, h, w).double().train(train)
        theirs = timm_gather_excite(layers, c, extent).double().train(train)
        mine = [m for m in ours.modules() if isinstance(m, kinds)]
        timms = [m for m in theirs.gather if isinstance(m, kinds)]
        for a, b in zip(mine, timms, strict=True):
            with torch.no_grad():
                for p in a.parameters():
                    p.normal_()
            b.load_state_dict(a.state_dict())
        x = torch.randn(3, c, h, w, dtype=torch.float64)
        torch.testing.assert_close(ours(x), theirs(x), rtol=1e-10, atol=1e-12)


def test_interpolate_follows_the_input_size(tmp_path):
    """Built at one size, run at another: the resize goes to the input at hand."""
    expr, result, reference = CASES["interpolate_nearest"]
    _, fixed = generated(tmp_path, "follow", space_source(expr, result))
    block = fixed.build_fixed({"y": "f"}, 4, 6, 5).double()
    x = torch.randn(2, 4, 11, 9, dtype=torch.float64)
    torch.testing.assert_close(block(x), reference(x), rtol=1e-12, atol=1e-12)


def test_a_strided_gather_built_at_one_size_is_the_block_built_at_another(tmp_path):
    """A strided conv's weights do not depend on H or W, and interpolate reads x's size at
    forward: built at 6 x 5 and run at 11 x 9, the block equals one built at 11 x 9."""
    expr = "x * sigmoid(interpolate(bn(conv2d(x, out=C, k=3, stride=2, groups=C)), x))"
    _, fixed = generated(tmp_path, "ge_size", conv_space(expr, "[B, C, H, W]"))
    small = fixed.build_fixed({"y": "f"}, 4, 6, 5).double().eval()
    large = fixed.build_fixed({"y": "f"}, 4, 11, 9).double().eval()
    with torch.no_grad():
        for p in small.parameters():
            p.normal_()
    large.load_state_dict(small.state_dict())
    x = torch.randn(2, 4, 11, 9, dtype=torch.float64)
    torch.testing.assert_close(small(x), large(x), rtol=0, atol=0)


@pytest.mark.parametrize("mode", ["avg", "max"])
@pytest.mark.parametrize("extent", [2, 3])
def test_window_pool_pads_an_expression_kernel_by_half_of_it(mode, extent, tmp_path):
    """A kernel written as an expression is padded by (k) // 2 as a whole: with
    `k=2 * extent - 1` the padding is extent - 1 (not 2 * extent - (1 // 2), which torch
    refuses), so the pooled map is ceil(H / 2) x ceil(W / 2) and equals torch's own."""
    source = space_source(
        f'window_pool(x, k=2 * extent - 1, stride=2, mode="{mode}")',
        "[B, C, ceil(H / 2), ceil(W / 2)]",
    )
    # an op parameter, so that the kernel stays an expression in the generated code
    source = source.replace("f(x: [B, C, H, W])", f"f(x: [B, C, H, W], extent: int = {extent})")
    space, fixed = generated(tmp_path, f"window_{mode}{extent}", source)
    supernet = supernet_of(f"window_{mode}{extent}")
    alphas = supernet.Alphas().double()
    k = 2 * extent - 1
    pool = torch.nn.functional
    for c, h, w in POINTS:
        block = fixed.build_fixed({"y": "f"}, c, h, w).double()
        x = torch.randn(2, c, h, w, dtype=torch.float64)
        if mode == "max":
            expected = pool.max_pool2d(x, k, 2, extent - 1)
        else:
            expected = pool.avg_pool2d(x, k, 2, extent - 1, count_include_pad=False)
        env = {"B": 2, "C": c, "H": h, "W": w}
        assert tuple(block(x).shape) == tuple(int(d.evaluate(env)) for d in space.block.result)
        torch.testing.assert_close(block(x), expected, rtol=0, atol=0)
        torch.testing.assert_close(supernet.SupernetBlock(c, h, w, alphas)(x), expected)


def test_same_padding_brackets_an_expression_dilation(tmp_path):
    """'same' padding is dilation * (k - 1) // 2 with the dilation as a whole: with
    `dilation=d + 1` and k = 5 it is 2 * (d + 1), not d + 1 * 4 // 2, and H and W are kept."""
    source = space_source("conv2d(x, out=C, k=5, dilation=d + 1)", "[B, C, H, W]")
    source = source.replace("f(x: [B, C, H, W])", "f(x: [B, C, H, W], d: int = 1)")
    _, fixed = generated(tmp_path, "dilated", source)
    supernet = supernet_of("dilated")
    for c, h, w in POINTS:
        block = fixed.build_fixed({"y": "f"}, c, h, w).double()
        (conv,) = [m for m in block.modules() if isinstance(m, torch.nn.Conv2d)]
        x = torch.randn(2, c, h, w, dtype=torch.float64)
        expected = torch.nn.functional.conv2d(x, conv.weight, padding=4, dilation=2)
        torch.testing.assert_close(block(x), expected, rtol=1e-12, atol=1e-12)
        assert supernet.SupernetBlock(c, h, w, supernet.Alphas())(x.float()).shape == x.shape


@pytest.mark.parametrize("channels", [False, True])
def test_dropout_is_torchs_in_training_and_the_identity_in_eval(channels, tmp_path):
    """With the same seed the generated dropout drops what nn.Dropout (nn.Dropout2d with
    `channels=true`: whole channel maps) drops; in eval it returns its input."""
    flag = ", channels=true" if channels else ""
    _, fixed = generated(
        tmp_path, f"dropout{channels}", space_source(f"dropout(x, p=0.3{flag})", "[B, C, H, W]")
    )
    torch_dropout = torch.nn.Dropout2d(0.3) if channels else torch.nn.Dropout(0.3)
    for c, h, w in POINTS:
        block = fixed.build_fixed({"y": "f"}, c, h, w).double()
        x = torch.randn(4, c, h, w, dtype=torch.float64)
        torch.manual_seed(3)
        ours = block.train()(x)
        torch.manual_seed(3)
        torch.testing.assert_close(ours, torch_dropout.train()(x), rtol=0, atol=0)
        assert (ours == 0).any()
        torch.testing.assert_close(block.eval()(x), x, rtol=0, atol=0)
