"""The primitive op library: one `Primitive` entry per op, with its shape rule and code.

Adding a primitive is one entry here (and, if it needs a helper class, one definition in
`runtime.py`). Everything else — composite attention ops, op sets, blocks — is written in
the .space language on top of these.

Shapes are [B, C, H, W] unless an entry says otherwise; `over="hw"` pools the spatial
axes (one value per channel) and `over="c"` pools the channels (one value per position).
`over` names any axes, by letter on [B, C, H, W] or by number at any rank, and the
patterns of permute / reshape / rearrange name every axis (sedsl/shapes/axes.py).
"""

from __future__ import annotations

import ast as pyast

from sedsl.diagnostics.codes import Code as Diag
from sedsl.ops.primitive import (
    Code,
    CodeInputs,
    ParamSpec,
    Primitive,
    Shape,
    ShapeContext,
    ShapeError,
)
from sedsl.shapes.axes import (
    AxesError,
    numel,
    over_axes,
    parse_pattern,
    pattern_calls,
    pattern_shape,
    reduced,
    window,
)
from sedsl.shapes.dims import Dim

ONE = Dim.const(1)
ZERO = Dim.const(0)
OVER = ParamSpec(
    "over", "str", "hw", "the axes to pool: `hw` (spatial) or `c` (channels)", ("hw", "c")
)
AXES = ParamSpec(
    "over",
    "axes",
    "hw",
    'the axes to reduce: letters of [B, C, H, W] ("hw", "c", "h") or numbers ("-1", "2, 3")',
)


def _rank4(shape: Shape, what: str = "input") -> Shape:
    if len(shape) != 4:
        raise ShapeError(f"{what} must have rank 4 [B, C, H, W], got rank {len(shape)}")
    return shape


def _pooled(shape: Shape, over: str) -> Shape:
    b, c, h, w = _rank4(shape)
    return (b, c, ONE, ONE) if over == "hw" else (b, ONE, h, w)


def _axes(over: str) -> str:
    return "(2, 3)" if over == "hw" else "(1,)"


def _same(ctx: ShapeContext, shapes: list[Shape], params) -> Shape:
    return shapes[0]


def _over(shape: Shape, over: str) -> tuple[int, ...]:
    try:
        return over_axes(over, len(shape))
    except AxesError as exc:
        raise ShapeError(str(exc), code=Diag.WRONG_VALUE) from None


def _atom(arg: str) -> str:
    """`arg` bracketed unless it is one atom, so that it can receive a method call or be
    an operand: `(x * a).mean(...)`, not `x * a.mean(...)`; `(2 * e - 1) // 2`, not
    `2 * e - 1 // 2`."""
    body = pyast.parse(arg, mode="eval").body
    simple = isinstance(
        body, pyast.Name | pyast.Constant | pyast.Attribute | pyast.Call | pyast.Subscript
    )
    return arg if simple else f"({arg})"


def _dims(axes: tuple[int, ...]) -> str:
    """A tuple of axes as Python: `(2, 3)`, `(1,)`."""
    return f"({', '.join(map(str, axes))}{',' * (len(axes) == 1)})"


def _axes_of(c: CodeInputs) -> str:
    return _dims(over_axes(c.raw["over"], len(c.shapes[0])))


REDUCTION_SIGNATURE = "[B, C, H, W] -> [B, C, 1, 1] (over=hw) | [B, 1, H, W] (over=c) | ..."


def _pool(name: str, doc: str, call, extra: tuple[ParamSpec, ...] = (), imports=()) -> Primitive:
    """A reduction over the axes `over` names, which it keeps as size one."""
    return Primitive(
        name=name,
        doc=doc,
        signature=REDUCTION_SIGNATURE,
        params=(AXES, *extra),
        arity=1,
        infer=lambda ctx, shapes, p: reduced(shapes[0], _over(shapes[0], p["over"])),
        code=lambda c: Code(call(c), imports=imports),
        buffer=_reduction_buffer,
    )


def _reduction_buffer(shapes: list[Shape], params) -> Dim:
    """A reduction must see its whole window before it can emit: all of [C, H, W] over h
    (H * W * C), a row over w, one position over c (sedsl/shapes/axes.py `window`)."""
    return window(shapes[0], over_axes(params.get("over") or "hw", len(shapes[0])))


def _global_buffer(shapes: list[Shape], params) -> Dim:
    """Pooling over the whole map must see all of it before it can emit: H * W * C."""
    _, c, h, w = shapes[0]
    return c * h * w if params.get("over", "hw") == "hw" else c


# ---- elementwise ---------------------------------------------------------------------


def _unary(name: str, doc: str, call: str) -> Primitive:
    return Primitive(
        name=name,
        doc=doc,
        signature="[...] -> [...]",
        params=(),
        arity=1,
        infer=_same,
        code=lambda c: Code(call.format(x=c.args[0])),
    )


# ---- convolutions ----------------------------------------------------------------------


def _conv2d_infer(ctx: ShapeContext, shapes: list[Shape], p) -> Shape:
    b, c, h, w = _rank4(shapes[0])
    out, groups, stride = p["out"], p["groups"], p["stride"]
    kh, kw = _kernel(p)
    ctx.require(out, ">=", 1, "a convolution needs at least one output channel")
    if not groups.is_int(1):
        ctx.require(c % groups, "==", 0, "groups must divide the input channels")
        ctx.require(out % groups, "==", 0, "groups must divide the output channels")
    if not stride.is_int(1):
        ctx.require(stride, ">=", 1, "the stride is at least 1")
    padding = p.get("padding")
    if padding is None:  # 'same': keeps H and W at stride 1, ceil(H / stride) otherwise
        for k, axis in ((kh, "height"), (kw, "width")):
            if not k.is_const or k.value % 2 != 1:
                ctx.require(k % 2, "==", 1, f"the kernel {axis} must be odd to keep the size")
        return (b, out, h.ceildiv(stride), w.ceildiv(stride))
    ctx.require(padding, ">=", 0, "the padding is at least 0")
    sizes = []
    for size, k, axis in ((h, kh, "height"), (w, kw, "width")):
        # torch: floor((H + 2 padding - dilation (k - 1) - 1) / stride) + 1
        starts = size + padding * 2 - p["dilation"] * (k - 1)
        ctx.require(starts, ">=", 1, f"the padded {axis} must hold the kernel")
        sizes.append((starts - 1) // stride + 1)
    return (b, out, *sizes)


def _kernel(p) -> tuple[Dim, Dim]:
    k = p["k"]
    kh = p["kh"] if isinstance(p.get("kh"), Dim) else k
    kw = p["kw"] if isinstance(p.get("kw"), Dim) else k
    return kh, kw


def _conv2d_code(c: CodeInputs) -> Code:
    p, raw = c.params, c.raw
    kh, kw = _kernel(raw)
    kernel = (
        p["k"] if kh == kw and "kh" not in raw and "kw" not in raw else f"({_py(kh)}, {_py(kw)})"
    )
    padding = p.get("padding") or _same_padding(kh, kw, raw["dilation"], p["dilation"])
    args = [c.shapes[0][1], p["out"], kernel]
    if p["stride"] != "1":
        args.append(f"stride={p['stride']}")
    args.append(f"padding={padding}")
    if p["dilation"] != "1":
        args.append(f"dilation={p['dilation']}")
    if p["groups"] != "1":
        args.append(f"groups={p['groups']}")
    args.append(f"bias={p['bias']}")
    return Code("{m}(" + c.args[0] + ")", init=f"nn.Conv2d({', '.join(args)})")


def _conv2d_buffer(shapes: list[Shape], p) -> Dim:
    """A strided convolution gathers each window into one value (GatherExcite's learned
    gather), so it holds, as a pooling window does, kh rows: C * min(kh, H) * W. At stride
    1 it is a local map that emits as the input streams; the model counts nothing for it."""
    if p["stride"].is_int(1):
        return ZERO
    _, c, h, w = shapes[0]
    return c * Dim.minimum(_kernel(p)[0], h) * w


def _same_padding(kh: Dim, kw: Dim, dilation: Dim, dilation_py: str) -> str:
    """'same' padding for odd kernels: dilation * (k - 1) // 2 per axis, folded when known."""

    def one(k: Dim) -> str:
        if k.is_const and dilation.is_const:
            return str(int(dilation.value) * (int(k.value) - 1) // 2)
        return f"{_atom(dilation_py)} * ({_py(k)} - 1) // 2"

    return one(kh) if kh == kw else f"({one(kh)}, {one(kw)})"


def _py(value) -> str:
    return value.to_python() if isinstance(value, Dim) else repr(value)


def _conv1d_infer(ctx, shapes, p) -> Shape:
    b, c, h, w = _rank4(shapes[0])
    if not (h.is_int(1) and w.is_int(1)):
        raise ShapeError(
            "conv1d runs across the channels of a [B, C, 1, 1] descriptor, "
            f"got [{b}, {c}, {h}, {w}]",
            help="squeeze the spatial axes first, e.g. avg_pool(x)",
        )
    k = p["k"]
    ctx.require(k % 2, "==", 1, "the kernel must be odd to keep the channel count")
    return shapes[0]


# ---- structure -------------------------------------------------------------------------


def _along(shape: Shape, along: str) -> int:
    """The one axis `along` names (a letter of [B, C, H, W] or a number)."""
    axes = _over(shape, along)
    if len(axes) != 1:
        raise ShapeError(f'`along` names one axis, got "{along}"', code=Diag.WRONG_VALUE)
    return axes[0]


def _axis_name(rank: int, axis: int) -> str:
    return "BCHW"[axis] if rank == 4 else f"axis {axis}"


def _concat_infer(ctx, shapes, p) -> Shape:
    """Inputs of one rank that agree on every axis but `along` (the channels by default)."""
    first = shapes[0]
    axis = _along(first, p["along"])
    total = first[axis]
    for i, shape in enumerate(shapes[1:], start=1):
        if len(shape) != len(first):
            raise ShapeError(
                f"concat needs inputs of one rank: input {i + 1} has rank {len(shape)}, "
                f"input 1 has {len(first)}",
                argument=i,
            )
        for other in (a for a in range(len(first)) if a != axis):
            name = _axis_name(len(first), other)
            if shape[other] != first[other]:
                if not (shape[other].is_const and first[other].is_const):
                    ctx.require(
                        shape[other], "==", first[other], f"concat needs equal {name} sizes"
                    )
                    continue
                raise ShapeError(
                    f"concat needs inputs that agree except in {_axis_name(len(first), axis)}: "
                    f"input {i + 1} has {name} = {shape[other]}, input 1 has {first[other]}",
                    argument=i,
                )
        total = total + shape[axis]
    return tuple(total if a == axis else d for a, d in enumerate(first))


def _concat_code(c: CodeInputs) -> Code:
    axis = over_axes(c.raw["along"], len(c.shapes[0]))[0]
    return Code(f"torch.cat([{', '.join(c.args)}], dim={axis})")


def _window_infer(ctx, shapes, p) -> Shape:
    b, c, h, w = _rank4(shapes[0])
    k, stride = p["k"], p["stride"]
    if not k.is_const or k.value % 2 != 1:
        ctx.require(k % 2, "==", 1, "the window must be odd, so that k // 2 pads it evenly")
    ctx.require(stride, ">=", 1, "the stride is at least 1")
    return (b, c, h.ceildiv(stride), w.ceildiv(stride))


def _window_code(c: CodeInputs) -> Code:
    k, stride = c.params["k"], c.params["stride"]
    x = c.args[0]
    pad = f"{_atom(k)} // 2"
    if c.raw["mode"] == "max":
        return Code(f"nn.functional.max_pool2d({x}, {k}, {stride}, {pad})")
    return Code(f"nn.functional.avg_pool2d({x}, {k}, {stride}, {pad}, count_include_pad=False)")


def _window_buffer(shapes: list[Shape], p) -> Dim:
    """A window of k rows must be held: k * W * C."""
    _, c, h, w = shapes[0]
    return c * Dim.minimum(p["k"], h) * w


def _narrow_infer(ctx, shapes, p) -> Shape:
    shape = shapes[0]
    axis = _along(shape, p["along"])
    start, length = p["start"], p["length"]
    ctx.require(length, ">=", 1, "narrow keeps at least one element")
    ctx.require(start + length, "<=", shape[axis], "narrow stays inside the axis")
    return tuple(length if a == axis else d for a, d in enumerate(shape))


def _narrow_code(c: CodeInputs) -> Code:
    axis = over_axes(c.raw["along"], len(c.shapes[0]))[0]
    return Code(f"{_atom(c.args[0])}.narrow({axis}, {c.params['start']}, {c.params['length']})")


def _split_infer(ctx, shapes, p) -> tuple[Shape, ...]:
    """The parts of one axis: `parts` equal ones, or two cut `at`, so that their sizes sum
    to the axis by construction (torch.split's list of sizes could be written wrong)."""
    shape = shapes[0]
    axis = _along(shape, p["along"])
    size, parts, at = shape[axis], p.get("parts"), p.get("at")
    if (parts is None) == (at is None):
        raise ShapeError(
            f"split takes `parts` or `at`, not {'both' if at is not None else 'neither'}",
            help="`parts=K` cuts the axis in K equal parts, `at=n` in two: n and the rest",
            code=Diag.BAD_KEYWORD,
        )
    if at is not None:
        ctx.require(at, ">=", 1, "split's `at` leaves at least one element before the cut")
        ctx.require(at, "<", size, "split's `at` leaves at least one element after the cut")
        sizes = (at, size - at)
    else:
        channels = len(shape) == 4 and axis == 1
        what = "the channels" if channels else f"the size along {_axis_name(len(shape), axis)}"
        ctx.require(size % parts, "==", 0, f"split needs {what} to divide evenly")
        sizes = (size / parts,) * ctx.parts
    return tuple(tuple(s if a == axis else d for a, d in enumerate(shape)) for s in sizes)


def _split_count(p) -> Dim:
    if p.get("at") is not None:
        return Dim.const(2)
    return ONE if p.get("parts") is None else p["parts"]


def _split_code(c: CodeInputs) -> Code:
    axis = over_axes(c.raw["along"], len(c.shapes[0]))[0]
    where = f", {c.label!r}" if c.label else ""  # names the split in the runtime's error
    if c.raw.get("at") is not None:
        call = f"split_at({c.args[0]}, {c.params['at']}, {axis}{where})"
        return Code(call, imports=("split_at",))
    call = f"split_even({c.args[0]}, {c.params['parts']}, {axis}{where})"
    return Code(call, imports=("split_even",))


def _split_buffer(shapes: list[Shape], p) -> Dim:
    """Each part is a run of the input's stream (a range of channels at each position, or
    of rows), so it emits as the input arrives; what joins the parts again holds them."""
    return ZERO


def _same_shapes_infer(ctx, shapes, p) -> Shape:
    first = shapes[0]
    for i, shape in enumerate(shapes[1:], start=1):
        if len(shape) != len(first):
            raise ShapeError(f"input {i + 1} has rank {len(shape)}, input 1 has {len(first)}")
        for a, b in zip(shape, first, strict=True):
            if a != b:
                ctx.require(a, "==", b, "all inputs must have the same shape")
    return first


def _group_norm_infer(ctx, shapes, p) -> Shape:
    _, c, _, _ = _rank4(shapes[0])
    ctx.require(c % p["groups"], "==", 0, "the groups must divide the channels")
    return shapes[0]


def _affine_infer(ctx, shapes, p) -> Shape:
    b, c, h, w = _rank4(shapes[0])
    return shapes[0]


def _affine_code(c: CodeInputs) -> Code:
    _, ch, h, w = c.shapes[0]
    dims = ", ".join(d for d in (ch, h, w))
    return Code("{m}(" + c.args[0] + ")", init=f"Affine({dims})", imports=("Affine",))


def _tile_infer(ctx, shapes, p) -> Shape:
    b, c, h, w = _rank4(shapes[0])
    th, tw = p["h"], p["w"]
    ctx.require(th, ">=", 1, "a tile is at least one row high")
    ctx.require(tw, ">=", 1, "a tile is at least one column wide")
    return (b, c, h.ceildiv(th), w.ceildiv(tw))


def _tile_code(c: CodeInputs) -> Code:
    h, w = c.params["h"], c.params["w"]
    return Code(
        f"nn.functional.avg_pool2d({c.args[0]}, ({h}, {w}), stride=({h}, {w}), ceil_mode=True)"
    )


def _tile_buffer(shapes: list[Shape], p) -> Dim:
    """A tile of h x w must be buffered whole: h * w * C (TSE, section 3.2)."""
    _, c, h, w = shapes[0]
    return c * Dim.minimum(p["h"], h) * Dim.minimum(p["w"], w)


def _broadcast_infer(ctx, shapes, p) -> Shape:
    y, x = _rank4(shapes[0]), _rank4(shapes[1], "the reference input")
    th, tw = p["h"], p["w"]
    for got, size, tile, axis in ((y[2], x[2], th, "H"), (y[3], x[3], tw, "W")):
        ctx.require(got, "==", size.ceildiv(tile), f"one value per tile along {axis}")
    return (y[0], y[1], x[2], x[3])


def _broadcast_code(c: CodeInputs) -> Code:
    y, x = c.args
    h, w = c.params["h"], c.params["w"]
    return Code(
        f"tile_broadcast({y}, {h}, {w}, {_atom(x)}.shape[-2], {_atom(x)}.shape[-1])",
        imports=("tile_broadcast",),
    )


def _interpolate_infer(ctx, shapes, p) -> Shape:
    y, x = _rank4(shapes[0]), _rank4(shapes[1], "the reference input")
    if y[0] != x[0]:
        ctx.require(y[0], "==", x[0], "one batch")
    return (y[0], y[1], x[2], x[3])


def _interpolate_code(c: CodeInputs) -> Code:
    y, x = c.args
    mode = c.raw["mode"]
    corners = ", align_corners=False" if mode in ("bilinear", "bicubic") else ""
    return Code(
        f"nn.functional.interpolate({y}, size={_atom(x)}.shape[-2:], mode={mode!r}{corners})"
    )


def _interpolate_buffer(shapes: list[Shape], p) -> Dim:
    """Resizing emits row by row from one row of the small map (what made the small map,
    a pooling or a strided conv, states its own window): C * w."""
    _, c, _, w = shapes[0]
    return c * w


# ---- axes: permute, reshape, rearrange, softmax, matmul ------------------------------------

PATTERN = ParamSpec("pattern", "str", None, 'input axes -> output axes, e.g. "b c h w -> b h c w"')


def _pattern_infer(kind: str):
    def infer(ctx: ShapeContext, shapes: list[Shape], p) -> Shape:
        sizes = {k: v for k, v in p.items() if k != "pattern"}
        try:
            pattern = parse_pattern(p["pattern"])
            if kind == "permute" and pattern.groups:
                raise AxesError(
                    "permute moves axes; to group or split them use reshape or rearrange"
                )
            if kind == "reshape" and pattern.permutes:
                raise AxesError(
                    "reshape keeps the order of the axes; to move them too use rearrange"
                )
            shape, _ = pattern_shape(pattern, shapes[0], sizes, ctx.require)
        except AxesError as exc:
            raise ShapeError(str(exc), code=Diag.WRONG_VALUE) from None
        return shape

    return infer


def _pattern_code(c: CodeInputs) -> Code:
    pattern = parse_pattern(c.raw["pattern"])
    sizes = {k: v for k, v in c.params.items() if k != "pattern"}
    calls = "".join(f".{call}" for call in pattern_calls(pattern, sizes))
    return Code(_atom(c.args[0]) + calls)


def _pattern_buffer(shapes: list[Shape], p) -> Dim:
    """Moving axes must hold the whole tensor; grouping them keeps the streamed order."""
    return numel(shapes[0]) if parse_pattern(p["pattern"]).permutes else ZERO


def _pattern_primitive(name: str, doc: str, signature: str) -> Primitive:
    return Primitive(
        name=name,
        doc=doc,
        signature=signature,
        params=(PATTERN,),
        arity=1,
        infer=_pattern_infer(name),
        code=_pattern_code,
        buffer=_pattern_buffer,
        positional="pattern",
        axis_sizes=True,
    )


def _softmax_infer(ctx: ShapeContext, shapes: list[Shape], p) -> Shape:
    _over(shapes[0], p["over"])  # names real axes, not the batch
    return shapes[0]


def _softmax_code(c: CodeInputs) -> Code:
    axes = over_axes(c.raw["over"], len(c.shapes[0]))
    if len(axes) == 1:
        return Code(f"torch.softmax({c.args[0]}, dim={axes[0]})")
    return Code(f"softmax_over({c.args[0]}, {_dims(axes)})", imports=("softmax_over",))


def _scale_code(c: CodeInputs) -> Code:
    return Code(f"{_atom(c.args[0])} * {_atom(c.params['by'])} ** {_atom(c.params['power'])}")


def _matmul_infer(ctx: ShapeContext, shapes: list[Shape], p) -> Shape:
    a, b = shapes
    for i, shape in enumerate(shapes):
        if len(shape) < 3:
            raise ShapeError(
                f"matmul multiplies the last two axes of batched tensors: input {i + 1} has "
                f"rank {len(shape)}, it needs at least [B, n, k]",
                argument=i,
            )
    if len(a) != len(b):
        raise ShapeError(
            f"matmul needs inputs of one rank, got {len(a)} and {len(b)}",
            help='add unit axes with reshape, e.g. reshape(a, "b n k -> b 1 n k")',
        )
    lead = []
    for axis, (x, y) in enumerate(zip(a[:-2], b[:-2], strict=True)):
        if x == y or y.is_int(1):
            lead.append(x)
        elif x.is_int(1):
            lead.append(y)
        elif x.is_const and y.is_const:
            raise ShapeError(f"matmul's batch axes differ at axis {axis}: {x} and {y}")
        else:
            ctx.require(x, "==", y, f"matmul's batch axes agree at axis {axis}")
            lead.append(x)
    if a[-1] != b[-2]:
        if a[-1].is_const and b[-2].is_const:
            raise ShapeError(
                f"matmul contracts the last axis of the first input ({a[-1]}) with the "
                f"second-last of the second ({b[-2]}): they differ",
                argument=1,
            )
        ctx.require(a[-1], "==", b[-2], "matmul contracts equal axes")
    return (*lead, a[-2], b[-1])


def _matmul_buffer(shapes: list[Shape], p) -> Dim:
    """A product over an axis must have seen each operand whole."""
    return Dim.maximum(numel(shapes[0]), numel(shapes[1]))


def _reducible(name: str, elementwise):
    """sum / mean: elementwise over several inputs, or a reduction of one over `over`."""

    def infer(ctx: ShapeContext, shapes: list[Shape], p) -> Shape:
        if p.get("over") is None:
            return _same_shapes_infer(ctx, shapes, p)
        if len(shapes) != 1:
            raise ShapeError(
                f"`over` reduces one tensor; {name}(a, b) combines tensors elementwise",
                code=Diag.WRONG_ARITY,
            )
        return reduced(shapes[0], _over(shapes[0], p["over"]))

    def code(c: CodeInputs) -> Code:
        if c.raw.get("over") is None:
            return Code(elementwise(c.args))
        method = "sum" if name == "sum" else "mean"
        return Code(f"{_atom(c.args[0])}.{method}(dim={_axes_of(c)}, keepdim=True)")

    def buffer(shapes: list[Shape], p) -> Dim:
        return ZERO if p.get("over") is None else _reduction_buffer(shapes, p)

    return infer, code, buffer


SUM = _reducible("sum", lambda args: " + ".join(args) if len(args) > 1 else args[0])
MEAN = _reducible(
    "mean", lambda args: f"({' + '.join(args)}) / {len(args)}" if len(args) > 1 else args[0]
)
OPTIONAL_AXES = ParamSpec(
    "over", "axes", None, "reduce one tensor over these axes instead", optional=True
)


def _build() -> dict[str, Primitive]:
    dim = "dim"
    prims = [
        # ---- squeezes --------------------------------------------------------------
        _pool(
            "avg_pool",
            "Average pooling over the chosen axes (SE's GAP with over=hw).",
            lambda c: f"{_atom(c.args[0])}.mean(dim={_axes_of(c)}, keepdim=True)",
        ),
        _pool(
            "max_pool",
            "Max pooling over the chosen axes (CBAM's GMP with over=hw).",
            lambda c: f"{_atom(c.args[0])}.amax(dim={_axes_of(c)}, keepdim=True)",
        ),
        _pool(
            "std_pool",
            "Standard deviation over the chosen axes (SRM); unbiased (n - 1) by default, as "
            "the SASE code has it, `unbiased=false` divides by n as the SRM paper does.",
            lambda c: (
                f"std_pool({c.args[0]}, {_axes_of(c)}"
                + ("" if c.raw["unbiased"] else ", unbiased=False")
                + ")"
            ),
            extra=(ParamSpec("unbiased", "bool", True, "divide by n - 1, not n"),),
            imports=("std_pool",),
        ),
        _pool(
            "skew_pool",
            "Third central moment over the chosen axes (MCA's skew, as the SASE code has it).",
            lambda c: f"skew_pool({c.args[0]}, {_axes_of(c)})",
            imports=("skew_pool",),
        ),
        _pool(
            "lp_pool",
            "L_p pooling (sum x^p)^(1/p) over the chosen axes (SASE; p=4 approximates GMP).",
            lambda c: f"lp_pool({c.args[0]}, {_axes_of(c)}, {c.params['p']})",
            extra=(ParamSpec("p", "float", 4.0, "the order p"),),
            imports=("lp_pool",),
        ),
        Primitive(
            name="cov_pool",
            stateful=True,
            doc="Global second-order (covariance) pooling (GSoP), reduced channels by "
            "`reduction` first, with a row-wise conv and a 1x1 conv to restore the shape.",
            signature="[B, C, H, W] -> [B, C, 1, 1] (over=hw) | [B, 1, H, W] (over=c)",
            params=(OVER, ParamSpec("reduction", dim, Dim.const(4), "channel reduction first")),
            arity=1,
            infer=lambda ctx, s, p: _pooled(s[0], p["over"]),
            code=lambda c: Code(
                "{m}(" + c.args[0] + ")",
                init=(
                    f"CovariancePool({c.shapes[0][1]}, {c.params['reduction']})"
                    if c.raw["over"] == "hw"
                    else f"SpatialCovariancePool({c.shapes[0][1]})"
                ),
                imports=("CovariancePool",)
                if c.raw["over"] == "hw"
                else ("SpatialCovariancePool",),
            ),
            buffer=_global_buffer,
        ),
        Primitive(
            name="norm_l2_pool",
            stateful=True,
            doc="Instance normalisation then the L2 norm over the chosen axes (EAN / GCT). "
            "Over hw this is constant in its input: IN leaves every channel with unit "
            "variance, so the norm depends only on the affine weights.",
            signature="[B, C, H, W] -> [B, C, 1, 1] (over=hw) | [B, 1, H, W] (over=c)",
            params=(OVER,),
            arity=1,
            infer=lambda ctx, s, p: _pooled(s[0], p["over"]),
            # InstanceNorm's weights per channel over hw; LayerNorm's over (H, W) over c
            sized_by=lambda shapes, p: (
                (shapes[0][1],) if p["over"] == "hw" else tuple(shapes[0][2:])
            ),
            code=lambda c: Code(
                "{m}(" + c.args[0] + ")",
                init=f"NormL2Pool({', '.join(c.shapes[0][1:])}, {_axes(c.raw['over'])})",
                imports=("NormL2Pool",),
            ),
            buffer=_global_buffer,
        ),
        Primitive(
            name="tile_pool",
            doc="Average pooling over non-overlapping h x w tiles, kernel = stride, ceil mode "
            "(TSE's tiled squeeze; h = H, w = W is SE's GAP).",
            signature="[B, C, H, W] -> [B, C, ceil(H / h), ceil(W / w)]",
            params=(
                ParamSpec("h", dim, None, "tile height"),
                ParamSpec("w", dim, None, "tile width"),
            ),
            arity=1,
            infer=_tile_infer,
            code=_tile_code,
            buffer=_tile_buffer,
        ),
        Primitive(
            name="tile_broadcast",
            doc="Nearest-neighbour broadcast of per-tile values y back to the size of x "
            "(repeat_interleave, then crop; TSE Figure A1).",
            signature="[B, C, ceil(H / h), ceil(W / w)], [B, _, H, W] -> [B, C, H, W]",
            params=(
                ParamSpec("h", dim, None, "tile height"),
                ParamSpec("w", dim, None, "tile width"),
            ),
            arity=2,
            infer=_broadcast_infer,
            code=_broadcast_code,
        ),
        Primitive(
            name="interpolate",
            doc="Resizes y to the height and width of x, read from x at forward so that it "
            "follows any input size (GatherExcite's way back: "
            "`interpolate(gather, x)`, nearest as timm's F.interpolate(..., size=x.shape[-2:])).",
            signature="[B, C, h, w], [B, _, H, W] -> [B, C, H, W]",
            params=(
                ParamSpec(
                    "mode",
                    "str",
                    "nearest",
                    "torch's interpolation mode (bilinear and bicubic with align_corners=False)",
                    ("nearest", "nearest-exact", "bilinear", "bicubic", "area"),
                ),
            ),
            arity=2,
            infer=_interpolate_infer,
            code=_interpolate_code,
            buffer=_interpolate_buffer,
        ),
        # ---- learned maps ----------------------------------------------------------
        Primitive(
            name="conv2d",
            stateful=True,
            doc="2D convolution, 'same' padding (dilation * (k - 1) // 2, odd kernels) unless "
            "`padding` is given; `groups=C` makes it depth-wise; `stride=2` halves H and W "
            "to ceil(H / 2), as torch computes it (GatherExcite's gather: "
            "`conv2d(x, out=C, k=3, stride=2, groups=C)`).",
            signature="[B, C, H, W] -> [B, out, H, W] | [B, out, ceil(H / stride), "
            "ceil(W / stride)] (stride) | ...",
            params=(
                ParamSpec("out", dim, None, "output channels"),
                ParamSpec("k", dim, Dim.const(1), "square kernel size (odd)"),
                ParamSpec("kh", dim, None, "kernel height, overrides k", optional=True),
                ParamSpec("kw", dim, None, "kernel width, overrides k", optional=True),
                ParamSpec("stride", dim, Dim.const(1), "step between windows"),
                ParamSpec(
                    "padding",
                    dim,
                    None,
                    "zeros on each side, instead of 'same'; the size is then "
                    "(H + 2 padding - dilation (k - 1) - 1) // stride + 1",
                    optional=True,
                ),
                ParamSpec("dilation", dim, Dim.const(1), "dilation"),
                ParamSpec("groups", dim, Dim.const(1), "groups"),
                ParamSpec("bias", "bool", False, "learn a bias"),
            ),
            arity=1,
            infer=_conv2d_infer,
            code=_conv2d_code,
            buffer=_conv2d_buffer,
        ),
        Primitive(
            name="conv1d",
            stateful=True,
            doc="1D convolution across the channels of a descriptor (ECA), 'same' padding, zero "
            "or circular (CECA).",
            signature="[B, C, 1, 1] -> [B, C, 1, 1]",
            params=(
                ParamSpec("k", dim, Dim.const(3), "kernel size (odd)"),
                ParamSpec("bias", "bool", False, "learn a bias"),
                ParamSpec("circular", "bool", False, "pad circularly (timm's CECA)"),
            ),
            arity=1,
            infer=_conv1d_infer,
            code=lambda c: Code(
                "{m}(" + c.args[0] + ")",
                init=f"ChannelConv1d({c.params['k']}"
                + (", bias=True" if c.raw["bias"] else "")
                + (", circular=True" if c.raw["circular"] else "")
                + ")",
                imports=("ChannelConv1d",),
            ),
        ),
        Primitive(
            name="affine",
            stateful=True,
            doc="alpha * x + beta with one pair per element of a [C, H, W] descriptor "
            "(GCT / EAN excitation; per channel on [B, C, 1, 1], per position on [B, 1, H, W]).",
            signature="[B, C, H, W] -> [B, C, H, W]",
            params=(),
            arity=1,
            infer=_affine_infer,
            code=_affine_code,
            sized_by=lambda shapes, p: tuple(shapes[0][1:]),
        ),
        Primitive(
            name="mix",
            stateful=True,
            doc="Mixes n same-shaped inputs with n weights shared over channels, no bias "
            "(the 1x1 conv that combines GAP and GMP in SASE).",
            signature="[S], [S], ... -> [S]",
            params=(),
            arity=None,
            infer=_same_shapes_infer,
            code=lambda c: Code(
                "{m}(" + ", ".join(c.args) + ")", init=f"Mix({len(c.args)})", imports=("Mix",)
            ),
            sized_by=lambda shapes, p: (),  # one weight per input
        ),
        Primitive(
            name="group_norm",
            stateful=True,
            doc="Group normalisation: `groups` groups of channels, each normalised over its "
            "channels and all positions, then a scale and shift per channel (groups=1 is "
            "timm's GroupNorm1; on [B, C, 1, 1] it is LayerNorm over the channels).",
            signature="[B, C, H, W] -> [B, C, H, W]",
            params=(
                ParamSpec("groups", dim, Dim.const(1), "number of channel groups"),
                ParamSpec("eps", "float", 1e-5, "added to the variance"),
            ),
            arity=1,
            infer=_group_norm_infer,
            code=lambda c: Code(
                "{m}(" + c.args[0] + ")",
                init=f"nn.GroupNorm({c.params['groups']}, {c.shapes[0][1]}, eps={c.params['eps']})",
            ),
            sized_by=lambda shapes, p: (shapes[0][1],),
            buffer=_global_buffer,
        ),
        Primitive(
            name="bn",
            stateful=True,
            doc="Batch normalisation over channels.",
            signature="[B, C, H, W] -> [B, C, H, W]",
            params=(ParamSpec("affine", "bool", True, "learn scale and shift"),),
            arity=1,
            infer=lambda ctx, s, p: _rank4(s[0]),
            code=lambda c: Code(
                "{m}(" + c.args[0] + ")",
                init=f"nn.BatchNorm2d({c.shapes[0][1]}"
                + ("" if c.raw["affine"] else ", affine=False")
                + ")",
            ),
        ),
        Primitive(
            name="dropout",
            stateful=True,
            doc="Dropout in training, identity in eval; `channels=true` drops whole channels "
            "(Dropout2d, BAT's output).",
            signature="[S] -> [S]",
            params=(
                ParamSpec("p", "float", 0.5, "the probability of dropping"),
                ParamSpec("channels", "bool", False, "drop whole channel maps"),
            ),
            arity=1,
            infer=_same,
            code=lambda c: Code(
                "{m}(" + c.args[0] + ")",
                init=f"nn.Dropout{'2d' if c.raw['channels'] else ''}({c.params['p']})",
            ),
            sized_by=lambda shapes, p: (),
        ),
        # ---- activations and trivia --------------------------------------------------
        _unary("relu", "Rectified linear unit.", "torch.relu({x})"),
        _unary(
            "sigmoid", "Logistic sigmoid; bounds an attention map to (0, 1).", "torch.sigmoid({x})"
        ),
        _unary("tanh", "Hyperbolic tangent.", "torch.tanh({x})"),
        _unary(
            "silu",
            "x * sigmoid(x) (SiLU, swish): EfficientNet's activation, also inside its SE.",
            "nn.functional.silu({x})",
        ),
        _unary(
            "hard_sigmoid",
            "relu6(x + 3) / 6, a piecewise-linear sigmoid (MobileNetV3; timm's ESE gate).",
            "nn.functional.hardsigmoid({x})",
        ),
        _unary(
            "hard_swish",
            "x * relu6(x + 3) / 6 (h-swish, MobileNetV3; coordinate attention's activation).",
            "nn.functional.hardswish({x})",
        ),
        _unary("identity", "Returns its input.", "{x}"),
        Primitive(
            name="zero",
            doc="Zeros of the input's shape (DARTS' `none`).",
            signature="[...] -> [...]",
            params=(),
            arity=1,
            infer=_same,
            code=lambda c: Code(f"{_atom(c.args[0])}.mul(0.0)"),
        ),
        # ---- structure -------------------------------------------------------------
        Primitive(
            name="concat",
            doc="Concatenation in argument order along channels, or along the axis `along` "
            'names: `concat(x_h, x_w, along="h")` stacks two strips (coordinate attention); '
            "split is its inverse.",
            signature="[B, C1, H, W], [B, C2, H, W], ... -> [B, C1 + C2 + ..., H, W] | "
            "[B, C, H1 + H2 + ..., W] (along=h) | ...",
            params=(ParamSpec("along", "axes", "c", "the axis to join along"),),
            arity=None,
            infer=_concat_infer,
            code=_concat_code,
        ),
        Primitive(
            name="window_pool",
            doc='Average (or max, mode="max") pooling over k x k windows with a stride, '
            "padded by k // 2 and the padding not counted (GatherExcite's gather): "
            "[B, C, ceil(H / stride), ceil(W / stride)].",
            signature="[B, C, H, W] -> [B, C, ceil(H / stride), ceil(W / stride)]",
            params=(
                ParamSpec("k", "dim", Dim.const(3), "the window's side (odd)"),
                ParamSpec("stride", "dim", Dim.const(2), "the step between windows"),
                ParamSpec("mode", "str", "avg", "`avg` or `max`", ("avg", "max")),
            ),
            arity=1,
            infer=_window_infer,
            code=_window_code,
            buffer=_window_buffer,
        ),
        Primitive(
            name="narrow",
            doc="The `length` elements from `start` along one axis: "
            '`narrow(y, along="h", start=H, length=W)` keeps rows H to H + W - 1.',
            signature="[B, C, H, W] -> [B, C, length, W] (along=h) | ...",
            params=(
                ParamSpec("along", "axes", None, "the axis to cut"),
                ParamSpec("start", "dim", Dim.const(0), "the first element kept"),
                ParamSpec("length", "dim", None, "how many are kept"),
            ),
            arity=1,
            infer=_narrow_infer,
            code=_narrow_code,
        ),
        Primitive(
            name="split",
            doc="Splits one axis, the channels unless `along` names another, into a list "
            "(index it with [k]): `parts=K` equal parts (torch.chunk), or `at=n` two, the "
            'first n and the rest: `split(y, along="h", at=H)` cuts coordinate attention\'s '
            "stacked strips [B, C, H + W, 1] back into [B, C, H, 1] and [B, C, W, 1]; "
            "the inverse of concat.",
            signature="[B, C, H, W] -> parts x [B, C / parts, H, W] | "
            "[B, at, H, W], [B, C - at, H, W] (at) | ... (along)",
            params=(
                ParamSpec("parts", dim, None, "number of equal parts", optional=True),
                ParamSpec("at", dim, None, "the size of the first of two parts", optional=True),
                ParamSpec("along", "axes", "c", "the axis to split"),
            ),
            arity=1,
            infer=_split_infer,
            code=_split_code,
            buffer=_split_buffer,
            count=_split_count,
        ),
        Primitive(
            name="sum",
            doc="Elementwise sum of same-shaped inputs (or of a list); with `over`, the sum "
            "of one tensor over those axes, kept as size one.",
            signature="[S], [S], ... -> [S] | [B, C, H, W] -> [B, C, 1, 1] (over=hw) | ...",
            params=(OPTIONAL_AXES,),
            arity=None,
            infer=SUM[0],
            code=SUM[1],
            buffer=SUM[2],
        ),
        Primitive(
            name="mean",
            doc="Elementwise mean of same-shaped inputs (or of a list); with `over`, the mean "
            "of one tensor over those axes, kept as size one (avg_pool).",
            signature="[S], [S], ... -> [S] | [B, C, H, W] -> [B, C, 1, 1] (over=hw) | ...",
            params=(OPTIONAL_AXES,),
            arity=None,
            infer=MEAN[0],
            code=MEAN[1],
            buffer=MEAN[2],
        ),
        # ---- axes ------------------------------------------------------------------
        _pattern_primitive(
            "permute",
            "Moves axes, named by an einops-style pattern, e.g. "
            '`permute(x, "b c h w -> b h c w")` swaps C and H (triplet attention).',
            '[B, C, H, W] -> [B, H, C, W] ("b c h w -> b h c w") | any order',
        ),
        _pattern_primitive(
            "reshape",
            "Groups or splits axes, keeping their order: "
            '`reshape(x, "b c h w -> b c (h w)")` flattens the positions, '
            '`reshape(y, "b c (h w) -> b c h w", h=H)` splits them back; `1` adds or '
            "drops an axis of size one.",
            '[B, C, H, W] -> [B, C, H * W] ("b c h w -> b c (h w)") | ...',
        ),
        _pattern_primitive(
            "rearrange",
            "permute and reshape in one pattern, as einops' rearrange: "
            '`rearrange(x, "b c h w -> b (h w) c")` (non-local attention\'s queries).',
            '[B, C, H, W] -> [B, H * W, C] ("b c h w -> b (h w) c") | ...',
        ),
        Primitive(
            name="softmax",
            doc="Softmax over the axes `over` names, jointly (over=hw: one distribution "
            "over all positions, GCNet's context; over=-1: the last axis).",
            signature="[S] -> [S]",
            params=(
                ParamSpec("over", "axes", None, 'the axes that sum to one ("hw", "-1", "2, 3")'),
            ),
            arity=1,
            infer=_softmax_infer,
            code=_softmax_code,
            buffer=_reduction_buffer,
        ),
        Primitive(
            name="scale",
            doc="Multiplies by a size raised to a power, the size read from the input at "
            "forward: `scale(a, by=C, power=-0.5)` divides by sqrt(C), dot-product attention's "
            "scale.",
            signature="[S] -> [S]",
            params=(
                ParamSpec("by", "dim", None, "a size, e.g. C or H * W"),
                ParamSpec("power", "float", 1.0, "its exponent"),
            ),
            arity=1,
            infer=_same,
            code=_scale_code,
        ),
        Primitive(
            name="matmul",
            doc="Matrix product over the last two axes, batched over the others: "
            "[..., n, k] and [..., k, m] give [..., n, m] (non-local attention's "
            "affinities and their weighted sum).",
            signature="[B, ..., N, K], [B, ..., K, M] -> [B, ..., N, M]",
            params=(),
            arity=2,
            infer=_matmul_infer,
            code=lambda c: Code(f"torch.matmul({c.args[0]}, {c.args[1]})"),
            buffer=_matmul_buffer,
        ),
    ]
    return {p.name: p for p in prims}


PRIMITIVES: dict[str, Primitive] = _build()

# Functions of dims usable in shapes and constraints, e.g. `max(1, C // 16)`.
DIM_FUNCTIONS = ("max", "min", "ceil")
