"""The minimum pipeline buffer of each candidate, from the IR, for the manifest.

TSE (seed 002, section 3.2): a dataflow accelerator streams a block's input through and
holds back only what a gate still needs; a pooling window must be seen whole before its
value exists, so the buffer is h x w x C for an h x w tile and H x W x C for global
pooling. Each primitive states its rule (`Primitive.buffer` in sedsl/ops/library.py);
this module walks a candidate's op graph, composite ops included, and instantiates the
rules at each call with the call's shapes and parameters, so that the buffer the manifest
records comes from the same IR the checker verified and the generator emitted.

Combining: the maximum over the pooling calls, not the sum. Every pooling in an attention
block reads (a function of) the same streamed input, and the gate can be applied once the
largest pooled window has been seen; the smaller windows fit inside that same buffer.
Blocks with no pooling (identity, a 1x1 conv gate) need no buffer: `0`.
"""

from __future__ import annotations

from sedsl.language import ir
from sedsl.ops.library import PRIMITIVES
from sedsl.ops.primitive import ParamValue, Shape
from sedsl.shapes.dims import Dim

ZERO = Dim.const(0)


def candidate_buffer(space: ir.SpaceIR, opset: ir.OpSetIR, cand: ir.CandidateIR) -> Dim:
    """The buffer of one candidate, over the op set's input symbols."""
    if cand.kind == "prim":
        return _prim_buffer(cand.op, [opset.input], dict(cand.params))
    op = space.op(cand.op)
    return _op_buffer(space, op, (opset.input,), cand.params)


def edge_buffers(space: ir.SpaceIR, edge: ir.EdgeIR) -> dict[str, str]:
    """Each candidate's buffer on `edge`, rendered over the block's input symbols with the
    space's parameters substituted (`C * min(7, H) * W`)."""
    opset = space.opset(edge.opset)
    to_edge = _bind(opset.input, edge.input)
    params = _param_dims(space)
    return {
        c.label: str(candidate_buffer(space, opset, c).subs(to_edge).subs(params))
        for c in opset.candidates
    }


def fixed_buffer(space: ir.SpaceIR) -> str:
    """The buffer of the block's fixed (non-searched) part: its poolings outside the edges."""
    graph = space.block.graph
    return str(_graph_buffer(space, graph, {}).subs(_param_dims(space)))


# ---- the walk ---------------------------------------------------------------------------


def _op_buffer(
    space: ir.SpaceIR,
    op: ir.OpIR,
    arg_shapes: tuple[Shape, ...],
    call_params: tuple[tuple[str, ParamValue], ...],
) -> Dim:
    """A composite op called with `arg_shapes` and `call_params`, in the caller's symbols."""
    mapping: dict[str, Dim] = {}
    for (_, declared), actual in zip(op.graph.inputs, arg_shapes, strict=False):
        mapping.update(_bind(declared, actual))
    mapping.update(op.param_dims(dict(call_params)))
    return _graph_buffer(space, op.graph, mapping)


def _graph_buffer(space: ir.SpaceIR, graph: ir.Graph, mapping: dict[str, Dim]) -> Dim:
    modules = {m.attr: m for m in graph.modules}
    found: list[Dim] = []
    for expr in [n.expr for n in graph.nodes] + [graph.output]:
        _collect(space, expr, modules, found)
    return _maximum(found).subs(mapping) if found else ZERO


def _maximum(dims: list[Dim]) -> Dim:
    """max(...) without the terms another term plainly dominates (`C` beside `C * H * W`)."""
    unique = list(dict.fromkeys(dims))
    kept = [d for d in unique if not any(e != d and _dominates(e, d) for e in unique)]
    return Dim.maximum(*kept)


def _dominates(big: Dim, small: Dim) -> bool:
    """big >= small for all dims >= 1: small is 0, or both are single monomials and
    big / small is a positive coefficient >= 1 times atoms that are each >= 1."""
    if not small.terms:
        return True
    if len(big.terms) != 1 or len(small.terms) != 1:
        return False
    ratio = big.exact_div(small)
    if len(ratio.terms) != 1:
        return False
    mono, coeff = ratio.terms[0]
    return coeff >= 1 and all(p > 0 and _at_least_one(a) for a, p in mono)


def _at_least_one(atom) -> bool:
    if isinstance(atom, str):
        return True  # a dim symbol (B, C, H, W) or a parameter: sizes are >= 1
    return atom.kind in ("min", "max") and all(
        (a.is_const and a.value >= 1) or (len(a.terms) == 1 and _lone_symbol(a)) for a in atom.args
    )


def _lone_symbol(d: Dim) -> bool:
    mono, coeff = d.terms[0]
    return coeff == 1 and len(mono) == 1 and mono[0][1] == 1 and isinstance(mono[0][0], str)


def _collect(space: ir.SpaceIR, expr: ir.Expr, modules: dict, found: list[Dim]) -> None:
    if isinstance(expr, ir.PrimCall):
        for arg in expr.args:
            _collect(space, arg, modules, found)
        if expr.args and PRIMITIVES[expr.prim].buffer is not None:
            shapes = [_shape_of(a) for a in expr.args]
            found.append(_prim_buffer(expr.prim, shapes, dict(expr.params)))
    elif isinstance(expr, ir.OpCall):
        for arg in expr.args:
            _collect(space, arg, modules, found)
        module = modules.get(expr.module)
        params = module.params if module is not None else ()
        shapes = tuple(_shape_of(a) for a in expr.args)
        found.append(_op_buffer(space, space.op(expr.op), shapes, params))
    elif isinstance(expr, ir.BinOp):
        _collect(space, expr.left, modules, found)
        _collect(space, expr.right, modules, found)
    elif isinstance(expr, ir.Neg):
        _collect(space, expr.operand, modules, found)
    elif isinstance(expr, ir.Item):
        _collect(space, expr.base, modules, found)
    elif isinstance(expr, ir.EdgeCall):
        # the edge's own buffer is its chosen candidate's (edge_buffers); only its argument
        # belongs to the fixed part
        _collect(space, expr.arg, modules, found)
    elif isinstance(expr, ir.ExternCall):
        # user code, unseen: assume it needs its whole input, as a global pooling does
        for arg in expr.args:
            _collect(space, arg, modules, found)
            shape = _shape_of(arg)
            whole = Dim.const(1)
            for d in shape[1:]:
                whole = whole * d
            found.append(whole)
    # Ref, Const: nothing held


def _prim_buffer(name: str, shapes: list[Shape], params: dict[str, ParamValue]) -> Dim:
    prim = PRIMITIVES[name]
    if prim.buffer is None:
        return ZERO
    full = {p.name: p.default for p in prim.params if p.default is not None}
    full.update(params)
    return prim.buffer(shapes, full)


def _shape_of(expr: ir.Expr) -> Shape:
    shape = getattr(expr, "shape", None)
    if shape is None:
        raise ValueError(f"internal error: no shape for {expr!r}")
    return shape


def _bind(declared: Shape, actual: Shape) -> dict[str, Dim]:
    """Symbols of a declared signature (`[B, C, H, W]`) -> the dims at a use."""
    out: dict[str, Dim] = {}
    for d, a in zip(declared, actual, strict=False):
        if len(d.terms) == 1 and _lone_symbol(d):
            out[d.terms[0][0][0][0]] = a
    return out


def _param_dims(space: ir.SpaceIR) -> dict[str, Dim]:
    return {
        name: Dim.const(value)
        for name, value in space.param_env().items()
        if isinstance(value, int) and not isinstance(value, bool)
    }
