"""Hypothesis strategies for random spaces built from the primitive library.

A space is a random chain of nodes over the block's input x: [B, C, H, W]. Each node applies a
searched edge (an op set of 1 to 4 candidates), a fixed primitive, or combines two earlier
nodes (broadcast arithmetic, concat along channels or along H or W). Channel counts are dim
expressions written with `//`, `ceil`, `+`, `*` and parameters; candidates, results and
requirements are drawn so that some spaces are right and some deliberately wrong (a candidate's
channels off its signature, a result that is not [B, C, H, W] at some point, a requirement a
point violates). The fixed primitives include the ones that change C, H or W (conv2d with a
stride, groups, dilation or padding; reductions over hw, c, h, w or ch; window_pool, narrow,
split and concat along an axis; interpolate back to the input; permute, rearrange and
reshape with symbolic sizes; matmul of two nodes; softmax over chosen axes;
tile_pool and tile_broadcast; cov_pool and norm_l2_pool; affine, group_norm and the
activations), so each node keeps the expressions of its channels, height and width, and a
cut, a window or a group may or may not fit at a point. Sizes are tiny.
"""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import strategies as st

# channel expressions over the edge's or block's C and the int parameters r and q
CHANNELS = (
    "C",
    "C // r * r",
    "r * (C // r)",
    "ceil(C / r) * r",
    "C + 0 * q",
    "C // q * q",
    "ceil(C / q)",
    "C // r",
    "C + r - r",
    "2 * C - C",
    "C + 1",
    "q",
    "r + q",
)
SPATIAL = (("H", "W"), ("1", "1"))
UNARY = ("identity", "relu", "sigmoid", "tanh", "silu", "hard_sigmoid", "hard_swish", "zero")


@dataclass(frozen=True)
class RandomSpace:
    text: str
    edges: tuple[tuple[str, tuple[str, ...]], ...]  # (edge, candidate labels), in order


@st.composite
def candidates(draw, out: str, spatial: tuple[str, str]) -> list[str]:
    """1 to 4 labelled candidates meant to give [B, out, *spatial] from [B, C, H, W]; a drawn
    channel expression other than `out` may or may not agree with it at the points."""
    count = draw(st.integers(1, 4))
    result = []
    for i in range(count):
        channels = draw(st.sampled_from((out, out, *CHANNELS)))
        if spatial == ("1", "1"):
            kind = draw(st.sampled_from(("pool", "pool", "conv_pooled")))
            if kind == "pool" and channels == out and out == "C":
                op = draw(st.sampled_from(("avg_pool", "max_pool", "std_pool", "lp_pool")))
            else:  # pool, then a 1x1 conv to the channels drawn
                op = f"pooled_conv(c={channels})" if channels != "C" else "avg_pool"
        else:
            kind = draw(st.sampled_from(("conv", "conv", "unary")))
            if kind == "unary" and channels == "C":
                # not conv1d: it takes a [B, C, 1, 1] descriptor by its signature, which the
                # checker enforces for every size, though torch runs it on a map at H = W = 1
                # (the 5,000-space run's only disagreements)
                op = draw(st.sampled_from(UNARY + ("bn", "affine", "group_norm(groups=q)")))
            else:
                k = draw(st.sampled_from((1, 3)))
                extra = draw(st.sampled_from(("", "", ", dilation=2", ", groups=C", ", groups=q")))
                op = f"conv2d(out={channels}, k={k}{extra})"
        result.append(f"c{i} = {op}")
    return result


@dataclass(frozen=True)
class Node:
    name: str
    h: str  # its height and width, as dim expressions
    w: str
    c: str = "C"  # its channels, as a dim expression (what the rule of each op gives)

    @property
    def full(self) -> bool:  # has the block's spatial size, so a searched edge may take it
        return (self.h, self.w) == ("H", "W")


def _sized(size: str) -> str:
    return size if size.isalnum() else f"({size})"


def _conv_size(size: str, k: int, stride: int, padding, dilation: int) -> str:
    """The height (or width) a conv2d gives, by torch's rule."""
    if padding is None:  # 'same'
        return size if stride == 1 else f"ceil({_sized(size)} / {stride})"
    return f"({_sized(size)} + {2 * padding - dilation * (k - 1) - 1}) // {stride} + 1"


@st.composite
def conv2d(draw, source: Node) -> tuple[str, str, str, str]:
    """A conv2d with a stride, groups (depth-wise: groups = the channels), a dilation and an
    explicit padding drawn, and the channels, height and width its rule gives."""
    k, stride, dilation = (draw(st.sampled_from(v)) for v in ((1, 3), (1, 2), (1, 1, 2)))
    padding = draw(st.sampled_from((None, None, 0, 1)))
    groups = draw(st.sampled_from(("1", "1", source.c, "C", "q", "2")))
    out = draw(st.sampled_from((source.c, *CHANNELS) if groups != "1" else CHANNELS))
    args = [f"out={out}", f"k={k}"]
    args += [f"stride={stride}"] * (stride != 1) + [f"dilation={dilation}"] * (dilation != 1)
    args += [f"padding={padding}"] * (padding is not None) + [f"groups={groups}"] * (groups != "1")
    h, w = (_conv_size(size, k, stride, padding, dilation) for size in (source.h, source.w))
    return f"conv2d({source.name}, {', '.join(args)})", out, h, w


@st.composite
def reduction(draw, source: Node) -> tuple[str, str, str, str]:
    """A pooling over the axes `over` names (hw, c, h, w or ch), each kept as size one."""
    op = draw(st.sampled_from(("avg_pool", "max_pool", "std_pool", "lp_pool", "skew_pool")))
    over = draw(st.sampled_from(("hw", "c", "h", "w", "ch")))
    c, h, w = (
        "1" if a in over else size
        for a, size in zip("chw", (source.c, source.h, source.w), strict=True)
    )
    return f'{op}({source.name}, over="{over}")', c, h, w


@st.composite
def library_op(draw, source: Node) -> tuple[str, str, str, str]:
    """The library's other one-input primitives: covariance and normalised-L2 pooling over
    hw or c, tile pooling (and its broadcast back, with tile sizes that may not match),
    affine, group_norm and the elementwise activations."""
    s, c, h, w = source.name, source.c, source.h, source.w
    kind = draw(st.sampled_from(("pool2", "tile", "broadcast", "affine", "group_norm", "unary")))
    if kind == "pool2":
        op = draw(st.sampled_from(("cov_pool", "norm_l2_pool")))
        over = draw(st.sampled_from(("hw", "c")))
        extra = f", reduction={draw(st.sampled_from(('1', 'r', '4')))}" if op == "cov_pool" else ""
        return f'{op}({s}, over="{over}"{extra})', *((c, "1", "1") if over == "hw" else ("1", h, w))
    if kind in ("tile", "broadcast"):
        th, tw = (draw(st.sampled_from(("1", "2", "H", size))) for size in (h, w))
        pooled = f"tile_pool({s}, h={th}, w={tw})"
        if kind == "tile":
            return (
                pooled,
                c,
                f"ceil({_sized(h)} / {_sized(th)})",
                f"ceil({_sized(w)} / {_sized(tw)})",
            )
        bh, bw = draw(st.sampled_from(((th, tw), (th, tw), ("1", "1"), ("2", "2"))))
        return f"tile_broadcast({pooled}, {s}, h={bh}, w={bw})", c, h, w
    if kind == "affine":
        return f"affine({s})", c, h, w
    if kind == "group_norm":
        return f"group_norm({s}, groups={draw(st.sampled_from(('1', 'q', '2', c)))})", c, h, w
    return f"{draw(st.sampled_from(UNARY))}({s})", c, h, w


@st.composite
def axes_op(draw, source: Node) -> tuple[str, str, str, str]:
    """permute, rearrange or reshape (a flatten, a round trip through a flattened axis
    split back at a drawn size, which may or may not divide it), or a softmax over axes."""
    s, c, h, w = source.name, source.c, source.h, source.w
    kind = draw(st.sampled_from(("swap_hw", "swap_ch", "flatten", "fold", "round", "softmax")))
    if kind == "swap_hw":
        return f'permute({s}, "b c h w -> b c w h")', c, w, h
    if kind == "swap_ch":
        return f'permute({s}, "b c h w -> b h c w")', h, c, w
    if kind == "flatten":  # all of C, H and W as channels
        size = f"{_sized(c)} * {_sized(h)} * {_sized(w)}"
        return f'reshape({s}, "b c h w -> b (c h w) 1 1")', size, "1", "1"
    if kind == "fold":  # the rows into the channels
        return f'rearrange({s}, "b c h w -> b (c h) w 1")', f"{_sized(c)} * {_sized(h)}", w, "1"
    if kind == "round":  # flattened positions split back, at a height that may not divide
        rows = draw(st.sampled_from((h, h, "H", "W", "1", "2")))
        flat = f'reshape({s}, "b c h w -> b c (h w)")'
        cols = f"{_sized(h)} * {_sized(w)} / {_sized(rows)}"
        return f'reshape({flat}, "b c (h w) -> b c h w", h={rows})', c, rows, cols
    over = draw(st.sampled_from(("hw", "c", "h", "w", "-1", "1, 2", "0")))
    return f'softmax({s}, over="{over}")', c, h, w


@st.composite
def matmul(draw, a: Node, b: Node) -> tuple[str, str, str, str]:
    """a @ b over the last two axes, or a @ b with b's last two swapped first; the
    contracted sizes may or may not agree."""
    c = a.c if b.c == "1" else b.c
    if draw(st.booleans()):
        return f"matmul({a.name}, {b.name})", c, a.h, b.w
    return f'matmul({a.name}, permute({b.name}, "b c h w -> b c w h"))', c, a.h, b.h


@st.composite
def fixed_op(draw, source: Node) -> tuple[str, str, str, str]:
    """A fixed primitive applied to `source`: its expression and the channels, height and
    width of what it makes (taken from the rule of the op, whether or not it fits at a
    point)."""
    s, c, h, w = source.name, source.c, source.h, source.w
    kind = draw(
        st.sampled_from(
            ("relu", "sigmoid", "conv2d", "conv2d", "avg_pool", "reduction", "scale", "dropout")
            + ("window_pool", "narrow", "split_at", "split_parts", "interpolate", "axes")
            + ("library",) * 2
        )
    )
    if kind == "library":
        return draw(library_op(source))
    if kind == "axes":
        return draw(axes_op(source))
    if kind == "conv2d":
        return draw(conv2d(source))
    if kind == "reduction":
        return draw(reduction(source))
    if kind == "avg_pool":
        return f"avg_pool({s})", c, "1", "1"
    if kind == "interpolate":  # back to the block input's H and W
        mode = draw(st.sampled_from(("nearest", "nearest-exact", "bilinear", "bicubic", "area")))
        return f'interpolate({s}, x, mode="{mode}")', c, "H", "W"
    if kind == "scale":
        by = draw(st.sampled_from(("C", "H * W", "q", "r + 1")))
        power = draw(st.sampled_from(("-0.5", "1.0", "2.0")))
        return f"scale({s}, by={by}, power={power})", c, h, w
    if kind == "dropout":
        return f"dropout({s}, p=0.5{draw(st.sampled_from(('', ', channels=true')))})", c, h, w
    if kind == "window_pool":  # odd windows only: the checker refuses even ones on purpose
        k, stride = draw(st.sampled_from((1, 3, 5))), draw(st.sampled_from((1, 2)))
        mode = draw(st.sampled_from(("avg", "max")))
        pooled = (h, w) if stride == 1 else (f"ceil({h} / 2)", f"ceil({w} / 2)")
        return f'window_pool({s}, k={k}, stride={stride}, mode="{mode}")', c, *pooled
    if kind in ("relu", "sigmoid"):
        return f"{kind}({s})", c, h, w
    axis = draw(st.sampled_from(("h", "w", "c")))
    size = {"h": h, "w": w, "c": c}[axis]
    if kind == "narrow":
        axis = "h" if axis == "c" else axis
        size = h if axis == "h" else w
        start = draw(st.sampled_from(("0", "1")))
        length = draw(st.sampled_from((size, f"{_sized(size)} - 1", "1", "H")))
        cut = f'narrow({s}, along="{axis}", start={start}, length={length})'
    elif kind == "split_at":
        at = draw(st.sampled_from(("1", "H", f"{_sized(size)} // 2", f"{_sized(size)} - 1")))
        part = draw(st.integers(0, 1))
        length = at if part == 0 else f"{_sized(size)} - {_sized(at)}"
        cut = f'split({s}, along="{axis}", at={at})[{part}]'
    else:
        parts = draw(st.integers(1, 3))
        length = f"{_sized(size)} / {parts}"
        cut = f'split({s}, along="{axis}", parts={parts})[{draw(st.integers(0, parts - 1))}]'
    sizes = {"c": c, "h": h, "w": w, axis: length}
    return cut, sizes["c"], sizes["h"], sizes["w"]


@st.composite
def spaces(draw) -> RandomSpace:
    r = draw(st.integers(1, 4))
    q = draw(st.integers(1, 3))
    lines = [
        'space fuzz "a random space"',
        f"param r: int = {r}",
        f"param q: int = {q}",
        "op pooled_conv(x: [B, C, H, W], c: int) -> [B, c, 1, 1] = conv2d(avg_pool(x), out=c)",
    ]
    body: list[str] = []
    nodes = [Node("x", "H", "W")]
    edges = []
    for n in range(draw(st.integers(1, 4))):
        name = f"n{n}"
        node = draw(st.sampled_from(nodes))
        source = node.name
        # the first node is a searched edge: a block without one is not a search space
        kind = "edge" if n == 0 else draw(st.sampled_from(("edge", "edge", "fixed", "combine")))
        if kind == "edge" and node.full:
            spatial = draw(st.sampled_from(SPATIAL))
            out = draw(st.sampled_from(("C", "C", *CHANNELS)))
            labels = draw(candidates(out, spatial))
            opset = f"set{n}"
            lines.append(f"opset {opset}(x: [B, C, H, W]) -> [B, {out}, {', '.join(spatial)}] {{")
            lines += [f"  {c}," for c in labels]
            lines.append("}")
            body.append(f"  {name} = {opset}({source})")
            edges.append((name, tuple(c.split(" = ")[0] for c in labels)))
            nodes.append(Node(name, *spatial, out))
        elif kind == "combine" and len(nodes) > 1:
            other = draw(st.sampled_from(nodes))
            op = draw(
                st.sampled_from(("*", "+", "concat", "concat_h", "concat_w", "matmul", "mix"))
            )
            if op == "matmul":
                expr, c, h, w = draw(matmul(node, other))
                nodes.append(Node(name, h, w, c))
            elif op.startswith("concat_"):  # joined along H or W: the sizes add up there
                axis = op[-1]
                expr = f'concat({source}, {other.name}, along="{axis}")'
                h = f"{node.h} + {other.h}" if axis == "h" else node.h
                w = f"{node.w} + {other.w}" if axis == "w" else node.w
                nodes.append(Node(name, h, w, node.c))
            else:
                expr = (
                    f"{op}({source}, {other.name})"
                    if op in ("concat", "mix")
                    else (f"{source} {op} {other.name}")
                )
                # broadcasting keeps the size that is not 1, if it is legal
                h = other.h if node.h == "1" else node.h
                w = other.w if node.w == "1" else node.w
                c = f"{node.c} + {other.c}" if op == "concat" else node.c
                c = other.c if c == "1" else c
                nodes.append(Node(name, h, w, c))
            body.append(f"  {name} = {expr}")
        else:
            expr, c, h, w = draw(fixed_op(node))
            body.append(f"  {name} = {expr}")
            nodes.append(Node(name, h, w, c))
    # every node reaches the result (an unused node is an error the runtime would not see)
    used = " + ".join(f"sigmoid(conv2d({n.name}, out=1))" for n in nodes[1:])
    out = draw(st.sampled_from(("C", "C", "C", *CHANNELS)))
    last = nodes[-1].name
    lines.append("block b(x: [B, C, H, W]) -> [B, C, H, W] {")
    lines += body
    tail = f"conv2d({last}, out={out})" if out != "C" or draw(st.booleans()) else f"x * {last}"
    lines.append(f"  return {tail} * ({used})" if used else f"  return {tail}")
    lines.append("}")
    if draw(st.booleans()):
        lines.append(draw(st.sampled_from(("require C % r == 0", "require C >= q"))))
    points = draw(
        st.lists(
            st.tuples(st.integers(1, 8), st.integers(1, 4), st.integers(1, 4)),
            min_size=1,
            max_size=3,
            unique=True,
        )
    )
    lines.append(f"check pts (C, H, W) in [{', '.join(map(str, points))}]")
    return RandomSpace("\n".join(lines) + "\n", tuple(edges))
