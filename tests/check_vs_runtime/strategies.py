"""Hypothesis strategies for random spaces built from the primitive library.

A space is a random chain of nodes over the block's input x: [B, C, H, W]. Each node applies a
searched edge (an op set of 1 to 4 candidates), a fixed primitive, or combines two earlier
nodes (broadcast arithmetic or concat). Channel counts are dim expressions written with `//`,
`ceil`, `+`, `*` and parameters; candidates, results and requirements are drawn so that some
spaces are right and some deliberately wrong (a candidate's channels off its signature, a
result that is not [B, C, H, W] at some point, a requirement a point violates). Sizes are tiny.
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
                op = draw(st.sampled_from(("identity", "relu", "sigmoid", "bn")))
            else:
                k = draw(st.sampled_from((1, 3)))
                op = f"conv2d(out={channels}, k={k})"
        result.append(f"c{i} = {op}")
    return result


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
    nodes = [("x", True)]  # (name, has the block's spatial size)
    edges = []
    for n in range(draw(st.integers(1, 4))):
        name = f"n{n}"
        source, full = draw(st.sampled_from(nodes))
        # the first node is a searched edge: a block without one is not a search space
        kind = "edge" if n == 0 else draw(st.sampled_from(("edge", "edge", "fixed", "combine")))
        if kind == "edge" and full:
            spatial = draw(st.sampled_from(SPATIAL))
            out = draw(st.sampled_from(("C", "C", *CHANNELS)))
            labels = draw(candidates(out, spatial))
            opset = f"set{n}"
            lines.append(f"opset {opset}(x: [B, C, H, W]) -> [B, {out}, {', '.join(spatial)}] {{")
            lines += [f"  {c}," for c in labels]
            lines.append("}")
            body.append(f"  {name} = {opset}({source})")
            edges.append((name, tuple(c.split(" = ")[0] for c in labels)))
            nodes.append((name, spatial == ("H", "W")))
        elif kind == "combine" and len(nodes) > 1:
            other, _ = draw(st.sampled_from(nodes))
            op = draw(st.sampled_from(("*", "+", "concat")))
            expr = f"concat({source}, {other})" if op == "concat" else f"{source} {op} {other}"
            body.append(f"  {name} = {expr}")
            nodes.append((name, True))  # broadcasting against x keeps the size, if it is legal
        else:
            fixed = draw(st.sampled_from(("relu", "sigmoid", "conv2d", "avg_pool")))
            if fixed == "conv2d":
                expr = f"conv2d({source}, out={draw(st.sampled_from(CHANNELS))})"
            else:
                expr = f"{fixed}({source})"
            body.append(f"  {name} = {expr}")
            nodes.append((name, full and fixed != "avg_pool"))
    # every node reaches the result (an unused node is an error the runtime would not see)
    used = " + ".join(f"sigmoid(conv2d({n}, out=1))" for n, _ in nodes[1:])
    out = draw(st.sampled_from(("C", "C", "C", *CHANNELS)))
    last = nodes[-1][0]
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
