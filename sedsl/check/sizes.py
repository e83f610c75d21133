"""Which candidates compute their function at any input size, and which pin the size.

A size written in terms of the input's dims (a tile `h=H`, a broadcast back to H x W) is
recomputed from the input at forward, so a generated module follows its input. A module
whose weights are shaped by H or W (an affine map per position, LayerNorm over (H, W))
computes its function only at the size it was built for: it pins the size, and the
generated block refuses another one with a ValueError.

The rule for a size handed to a composite op (`tse(th=H)`): when the op reads that
parameter only at forward and every symbol of the value is an axis of the op's own input,
the generated code passes it as a function of the op's dims, evaluated at forward
(`rebase`). Otherwise it is fixed when the module is built, and its symbols are pinned.

Pins are worked out per graph in the graph's own symbols (a composite op's `H`, its
parameters), then mapped through each call to the caller's, as the buffer model does.
"""

from __future__ import annotations

from sedsl.language import ir
from sedsl.ops.library import PRIMITIVES
from sedsl.ops.primitive import ParamValue, Shape
from sedsl.shapes.dims import Dim

Pins = dict[str, str]  # a symbol of the graph -> what pins it, for the message
# op name -> (its forward-only parameters, the pins of its graph), within one space: every
# call of an op needs the same two, and the candidates of a space call the same few ops
OpPins = dict[str, tuple[frozenset[str], Pins]]


def lone_symbol(d: Dim) -> str | None:
    """The symbol when `d` is exactly one symbol (`H`), else None (`H // 2`, `1`)."""
    return d.symbol


def input_axes(graph: ir.Graph) -> dict[str, tuple[str, int]]:
    """Each symbol that is a whole axis of a tensor input -> (input name, axis): the sizes a
    module can read from its input at forward."""
    axes: dict[str, tuple[str, int]] = {}
    for name, shape in graph.inputs:
        for axis, d in enumerate(shape):
            symbol = lone_symbol(d)
            if symbol is not None:
                axes.setdefault(symbol, (name, axis))
    return axes


def rebase(value: Dim, declared: Shape, actual: Shape) -> Dim | None:
    """`value`, in the caller's symbols, over the callee's input dims (`H` of the caller is
    the callee's `H` when the callee's input axis `H` receives it); None if some symbol of
    it is not a whole axis of the callee's input."""
    mapping: dict[str, Dim] = {}
    for d, a in zip(declared, actual, strict=False):
        own, theirs = lone_symbol(d), lone_symbol(a)
        if own is not None and theirs is not None:
            mapping.setdefault(theirs, Dim.sym(own))
    if not value.symbols() <= mapping.keys():
        return None
    return value.subs(mapping)


def forward_params(op: ir.OpIR) -> frozenset[str]:
    """The int parameters of `op` that only its forward reads (tile sizes), never its
    constructor (widths of weights): these can follow the input."""
    forward: set[str] = set()
    for expr in _exprs(op.graph):
        for call in _forward_prim_calls(expr):
            for _, value in call.params:
                if isinstance(value, Dim):
                    forward |= value.symbols()
    built: set[str] = set()
    for m in op.graph.modules:
        for _, value in m.params:
            if isinstance(value, Dim):
                built |= value.symbols()
    ints = {p.name for p in op.params if p.type == "int"}
    return frozenset((forward - built) & ints)


def graph_pins(
    space: ir.SpaceIR,
    graph: ir.Graph,
    followable: frozenset[str] = frozenset(),
    memo: OpPins | None = None,
) -> Pins:
    """The symbols of `graph` that shape its weights or that its forward cannot recompute
    (`followable`: parameters evaluated at forward, see `call_pins`)."""
    pins: Pins = {}
    for m in graph.modules:
        if m.kind == "prim":
            prim = PRIMITIVES[m.target]
            for d in prim.weight_dims(list(m.input_shapes), dict(m.params)):
                _add(pins, d, f"`{m.target}`")
        elif m.kind == "op":
            callee = space.op(m.target)
            for symbol, why in call_pins(space, callee, m.input_shapes, m.params, memo).items():
                pins.setdefault(symbol, why)
        elif m.kind == "extern":  # user code built with a size may shape weights by it
            extern = space.op(m.target).extern
            for value in (*extern.args, *(v for _, v in extern.kwargs)):
                if isinstance(value, Dim):
                    _add(pins, value, f"extern op `{m.target}`")
    readable = input_axes(graph).keys() | followable
    for expr in _exprs(graph):
        for call in _forward_prim_calls(expr):
            for _, value in call.params:
                if isinstance(value, Dim):
                    for symbol in value.symbols() - readable:
                        pins.setdefault(symbol, f"`{call.prim}`")
    return pins


def call_pins(
    space: ir.SpaceIR,
    op: ir.OpIR,
    input_shapes: tuple[Shape, ...],
    params: tuple[tuple[str, ParamValue], ...],
    memo: OpPins | None = None,
) -> Pins:
    """The pins of a call of composite `op`, in the caller's symbols."""
    mapping: dict[str, Dim] = {}
    for (_, declared), actual in zip(op.graph.inputs, input_shapes, strict=False):
        for d, a in zip(declared, actual, strict=False):
            symbol = lone_symbol(d)
            if symbol is not None:
                mapping.setdefault(symbol, a)
    given = dict(params)
    mapping.update(op.param_dims(given))
    pins: Pins = {}
    known = memo.get(op.name) if memo is not None else None
    if known is None:
        followable = forward_params(op)
        known = followable, graph_pins(space, op.graph, followable, memo)
        if memo is not None:
            memo[op.name] = known
    followable, own = known
    for symbol, why in own.items():
        where = why if why.endswith(f"of `{op.name}`") else f"{why} of `{op.name}`"
        _add(pins, mapping.get(symbol, Dim.sym(symbol)), where)
    declared = op.graph.inputs[0][1]
    for name in sorted(followable):
        value = given.get(name)
        if isinstance(value, Dim) and rebase(value, declared, input_shapes[0]) is None:
            _add(pins, value, f"`{op.name}`'s `{name}`")
    return pins


def candidate_pins(
    space: ir.SpaceIR, opset: ir.OpSetIR, cand: ir.CandidateIR, memo: OpPins | None = None
) -> Pins:
    """The pins of one candidate, in the op set's symbols."""
    if cand.kind == "prim":
        pins: Pins = {}
        for d in PRIMITIVES[cand.op].weight_dims([opset.input], dict(cand.params)):
            _add(pins, d, f"`{cand.op}`")
        return pins
    return call_pins(space, space.op(cand.op), (opset.input,), cand.params, memo)


def spatial_symbols(space: ir.SpaceIR) -> frozenset[str]:
    """The block's height and width symbols: the sizes an input may change."""
    return frozenset(s for d in space.block.input[2:] if (s := lone_symbol(d)) is not None)


def opset_pins(space: ir.SpaceIR, opset: ir.OpSetIR, memo: OpPins | None = None) -> dict[str, Pins]:
    """The pins of each candidate of `opset`, by label, in the op set's symbols."""
    return {cand.label: candidate_pins(space, opset, cand, memo) for cand in opset.candidates}


def edge_pins(
    space: ir.SpaceIR, edge: ir.EdgeIR, pins: dict[str, Pins] | None = None
) -> dict[str, str]:
    """For each candidate of `edge` that pins the block's height or width, what pins it.
    `pins`: the op set's `opset_pins`, when the caller has them already."""
    opset = space.opset(edge.opset)
    if pins is None:
        pins = opset_pins(space, opset)
    to_edge = {}
    for d, a in zip(opset.input, edge.input, strict=False):
        symbol = lone_symbol(d)
        if symbol is not None:
            to_edge[symbol] = a
    spatial = spatial_symbols(space)
    out = {}
    for cand in opset.candidates:
        for symbol, why in pins[cand.label].items():
            if Dim.sym(symbol).subs(to_edge).symbols() & spatial:
                out[cand.label] = f"{why} (candidate `{cand.label}` of `{opset.name}`)"
                break
    return out


def block_pins(space: ir.SpaceIR, memo: OpPins | None = None) -> str | None:
    """What pins the block's size outside its searched edges, if anything."""
    spatial = spatial_symbols(space)
    for symbol, why in graph_pins(space, space.block.graph, memo=memo).items():
        if symbol in spatial:
            return why
    return None


# ---- walking ---------------------------------------------------------------------------


def _add(pins: Pins, d: Dim, why: str) -> None:
    for symbol in sorted(d.symbols()):
        pins.setdefault(symbol, why)


def _exprs(graph: ir.Graph):
    return [n.expr for n in graph.nodes] + [graph.output]


def _forward_prim_calls(expr):
    """Primitive calls without weights in `expr`: their parameters are read at forward."""
    if isinstance(expr, ir.PrimCall):
        if expr.module is None:
            yield expr
        for arg in expr.args:
            yield from _forward_prim_calls(arg)
    elif isinstance(expr, ir.OpCall):
        for arg in expr.args:
            yield from _forward_prim_calls(arg)
    elif isinstance(expr, ir.EdgeCall):
        yield from _forward_prim_calls(expr.arg)
    elif isinstance(expr, ir.BinOp):
        yield from _forward_prim_calls(expr.left)
        yield from _forward_prim_calls(expr.right)
    elif isinstance(expr, ir.Neg):
        yield from _forward_prim_calls(expr.operand)
    elif isinstance(expr, ir.Item):
        yield from _forward_prim_calls(expr.base)


# ---- the report of `sedsl check` ---------------------------------------------------------


def size_report(space: ir.SpaceIR, display: str) -> dict:
    """Per candidate of every searched op set, whether it follows any input size, and what
    pins it otherwise (the `sizes` entry of `sedsl check --format json`)."""
    pinned: dict[tuple[str, str], str] = {}
    edges = space.block.edges if space.block else ()
    # several edges search one op set: its candidates' pins are worked out once
    searched = dict.fromkeys(e.opset for e in edges)
    memo: OpPins = {}
    by_opset = {name: opset_pins(space, space.opset(name), memo) for name in searched}
    for edge in edges:
        for label, why in edge_pins(space, edge, by_opset[edge.opset]).items():
            pinned.setdefault((edge.opset, label), why)
    used = {e.opset for e in space.block.edges} if space.block else set()
    candidates = [
        {
            "opset": s.name,
            "candidate": c.label,
            "size_agnostic": (s.name, c.label) not in pinned,
            "pinned_by": pinned.get((s.name, c.label)),
        }
        for s in space.opsets
        if s.name in used
        for c in s.candidates
    ]
    fixed = block_pins(space, memo) if space.block else None
    return {
        "file": display,
        "space": space.name,
        "block": {"size_agnostic": fixed is None, "pinned_by": fixed},
        "candidates": candidates,
    }
