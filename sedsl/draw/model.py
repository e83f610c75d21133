"""The picture of a block as a graph, computed from the IR and kept apart from the drawing.

Drawn the way the papers draw their blocks (SASE Figures 1 and 2, AutoLA's HOGA figure):
tensors and fixed ops are vertices; a searched edge is an arc from the tensor it reads to
the tensor it computes, labelled with its op set and candidates. As in DARTS, a node that
only sums its incoming edges (HOGA's `U[k] = o[k, k] + sum(o[j, k] ...)`) is one vertex and
each summed edge an arc into it, so edge results that nothing else reads get no vertex.
A chain of one-input fixed ops (`relu(bn(conv2d(concat(a, b))))`) is one vertex.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sedsl.language import ir
from sedsl.ops.library import PRIMITIVES

_SYMBOLS = {"+": "+", "-": "−", "*": "×", "/": "÷"}


@dataclass(frozen=True)
class Vertex:
    id: str
    kind: str  # input | output | tensor | op
    steps: tuple[str, ...]  # the fixed ops it applies, in order: ("concat", "conv2d(out=1)")
    name: str | None  # the block's name for the tensor, as written ("U[1]")
    shape: str | None  # "[B, C, 1, 1]"; None for an unnamed intermediate
    node: str | None  # the IR node (python name) it draws, if any


@dataclass(frozen=True)
class Searched:
    edge: str  # python name, as genotypes and runs key it: "o_0_1"
    name: str  # as written: "o[0, 1]"
    opset: str
    candidates: tuple[str, ...]
    result: str | None  # the IR node the edge computes, when it is a node of its own


@dataclass(frozen=True)
class Arc:
    source: str
    target: str
    searched: Searched | None = None  # None: plain data flow


@dataclass(frozen=True)
class BlockGraph:
    space: str
    block: str
    vertices: tuple[Vertex, ...]
    arcs: tuple[Arc, ...]

    def vertex(self, id: str) -> Vertex:
        return next(v for v in self.vertices if v.id == id)

    def searched_arcs(self) -> tuple[Arc, ...]:
        return tuple(a for a in self.arcs if a.searched is not None)


def shape_text(shape: ir.Shape | None) -> str | None:
    return None if shape is None else "[" + ", ".join(str(d) for d in shape) + "]"


def block_graph(space: ir.SpaceIR) -> BlockGraph:
    """The graph of the space's block. The space must have one (libraries have none)."""
    if space.block is None:
        raise ValueError(f"space {space.name} has no block")
    builder = _Builder(space)
    return builder.build()


# ---- building -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Pending:
    """A searched edge whose result has no vertex yet: it becomes an arc into its reader."""

    edge: ir.EdgeIR
    source: str  # vertex id of what the edge reads
    result: str | None


_Source = str | _Pending  # a vertex id, or an edge waiting for its reader


@dataclass
class _Builder:
    space: ir.SpaceIR
    vertices: dict[str, Vertex] = field(default_factory=dict)
    arcs: list[Arc] = field(default_factory=list)
    env: dict[str, _Source] = field(default_factory=dict)  # IR node / input py -> source
    by_expr: dict[ir.Expr, _Source] = field(default_factory=dict)  # named nodes' expressions
    items: dict[tuple[str, int], str] = field(default_factory=dict)

    def build(self) -> BlockGraph:
        block = self.space.block
        graph = block.graph
        self.edges = {e.py: e for e in block.edges}
        self.modules = {m.attr: m for m in graph.modules}
        self.readers = _readers(graph)
        for py, shape in graph.inputs:
            self.env[py] = self._vertex(py, "input", (), py, shape_text(shape), None)
        for node in graph.nodes:
            source = self._node(node)
            self.env[node.py] = source
            self.by_expr.setdefault(node.expr, source)
        out = self._vertex("output", "output", (), "output", shape_text(block.result), None)
        self._connect(self._expr(graph.output), out)
        return BlockGraph(
            self.space.name, block.name, tuple(self.vertices.values()), tuple(self.arcs)
        )

    # -- nodes ----------------------------------------------------------------------------

    def _node(self, node: ir.Node) -> _Source:
        expr = node.expr
        shape = shape_text(node.shape)
        if isinstance(expr, ir.EdgeCall):
            pending = _Pending(self.edges[expr.edge], self._source_of(expr.arg), node.py)
            if self._summed_once(node.py):
                return pending  # an arc straight into the node that sums it
            vertex = self._vertex(node.py, "tensor", (), node.name, shape, node.py)
            self._connect(pending, vertex)
            return vertex
        terms = _sum_terms(expr)
        if len(terms) > 1 or isinstance(expr, ir.Ref):
            steps = ("+",) if len(terms) > 1 else ()
            kind = "op" if steps else "tensor"
            vertex = self._vertex(node.py, kind, steps, node.name, shape, node.py)
            for term in terms:
                self._connect(self._expr(term), vertex)
            return vertex
        source = self._expr(expr)
        if isinstance(source, _Pending) or self.vertices[source].name is not None:
            vertex = self._vertex(node.py, "tensor", (), node.name, shape, node.py)
            self._connect(source, vertex)
            return vertex
        named = self.vertices.pop(source)  # the anonymous op that computes the node: name it
        vertex = Vertex(node.py, named.kind, named.steps, node.name, shape, node.py)
        self.vertices[node.py] = vertex
        self.arcs = [_retarget(a, source, node.py) for a in self.arcs]
        return node.py

    def _summed_once(self, py: str) -> bool:
        readers = self.readers.get(py, [])
        if len(readers) != 1 or readers[0] is None:
            return False
        reader = readers[0]
        return any(isinstance(t, ir.Ref) and t.py == py for t in _sum_terms(reader.expr))

    # -- expressions ----------------------------------------------------------------------

    def _source_of(self, expr: ir.Expr) -> str:
        """A vertex for what an edge reads (an edge never reads an edge's arc directly)."""
        source = self._expr(expr)
        if isinstance(source, _Pending):
            vertex = self._vertex(self._fresh("t"), "tensor", (), None, None)
            self._connect(source, vertex)
            return vertex
        return source

    def _expr(self, expr: ir.Expr) -> _Source:
        if isinstance(expr, ir.Ref):
            return self.env[expr.py]
        if expr in self.by_expr:  # a named node's expression, inlined by the resolver
            return self.by_expr[expr]
        if isinstance(expr, ir.EdgeCall):
            return _Pending(self.edges[expr.edge], self._source_of(expr.arg), None)
        if isinstance(expr, ir.Item):
            return self._item(expr)
        if isinstance(expr, ir.PrimCall):
            return self._apply(_prim_label(expr), [a for a in expr.args])
        if isinstance(expr, ir.OpCall):
            return self._apply(self._op_label(expr), list(expr.args))
        if isinstance(expr, ir.BinOp):
            constants = [a for a in (expr.left, expr.right) if isinstance(a, ir.Const)]
            tensors = [a for a in (expr.left, expr.right) if not isinstance(a, ir.Const)]
            symbol = _SYMBOLS[expr.op]
            if constants and isinstance(expr.right, ir.Const):
                label = f"{symbol} {_number(expr.right.value)}"
            elif constants:
                label = f"{_number(expr.left.value)} {symbol}"
            else:
                label = symbol
            return self._apply(label, tensors)
        if isinstance(expr, ir.Neg):
            return self._apply("−", [expr.operand])
        raise TypeError(f"cannot draw expression {expr!r}")

    def _item(self, expr: ir.Item) -> str:
        base = self._source_of(expr.base)
        key = (base, expr.index)
        if key not in self.items:
            list_name = self.vertices[base].name or base
            vertex = self._vertex(
                f"{base}[{expr.index}]",
                "tensor",
                (),
                f"{list_name}[{expr.index}]",
                shape_text(expr.shape),
            )
            self._connect(base, vertex)
            self.items[key] = vertex
        return self.items[key]

    def _apply(self, label: str, args: list[ir.Expr]) -> str:
        sources = [self._expr(a) for a in args]
        if len(sources) == 1 and isinstance(sources[0], str):
            only = self.vertices[sources[0]]
            if only.kind == "op" and only.name is None:  # a chain of one-input ops: one vertex
                self.vertices[only.id] = Vertex(
                    only.id, "op", (*only.steps, label), None, None, None
                )
                return only.id
        vertex = self._vertex(self._fresh("op"), "op", (label,), None, None)
        for source in sources:
            self._connect(source, vertex)
        return vertex

    def _op_label(self, call: ir.OpCall) -> str:
        module = self.modules.get(call.module)
        op = next((o for o in self.space.ops if o.name == call.op), None)
        if module is None or op is None:
            return call.op
        defaults = {p.name: p.default for p in op.params}
        shown = [(k, v) for k, v in module.params if defaults.get(k) != v]
        return _call_text(call.op, shown)

    # -- vertices and arcs ----------------------------------------------------------------

    def _vertex(self, id, kind, steps, name, shape, node: str | None = None) -> str:
        self.vertices[id] = Vertex(id, kind, tuple(steps), name, shape, node)
        return id

    def _fresh(self, prefix: str) -> str:
        n = 0
        while f"_{prefix}{n}" in self.vertices:
            n += 1
        return f"_{prefix}{n}"

    def _connect(self, source: _Source, target: str) -> None:
        if isinstance(source, _Pending):
            edge = source.edge
            candidates = tuple(c.label for c in self.space.opset(edge.opset).candidates)
            searched = Searched(edge.py, edge.name, edge.opset, candidates, source.result)
            self.arcs.append(Arc(source.source, target, searched))
        else:
            self.arcs.append(Arc(source, target))


def _retarget(arc: Arc, old: str, new: str) -> Arc:
    if old not in (arc.source, arc.target):
        return arc
    source = new if arc.source == old else arc.source
    target = new if arc.target == old else arc.target
    return Arc(source, target, arc.searched)


def _readers(graph: ir.Graph) -> dict[str, list[ir.Node | None]]:
    """Which nodes read each node (None: the block's output), once per reading node."""
    readers: dict[str, list[ir.Node | None]] = {}
    for node in graph.nodes:
        for py in dict.fromkeys(_refs(node.expr)):
            readers.setdefault(py, []).append(node)
    for py in dict.fromkeys(_refs(graph.output)):
        readers.setdefault(py, []).append(None)
    return readers


def _refs(expr: ir.Expr):
    if isinstance(expr, ir.Ref):
        yield expr.py
    elif isinstance(expr, ir.PrimCall | ir.OpCall):
        for arg in expr.args:
            yield from _refs(arg)
    elif isinstance(expr, ir.EdgeCall):
        yield from _refs(expr.arg)
    elif isinstance(expr, ir.BinOp):
        yield from _refs(expr.left)
        yield from _refs(expr.right)
    elif isinstance(expr, ir.Neg):
        yield from _refs(expr.operand)
    elif isinstance(expr, ir.Item):
        yield from _refs(expr.base)


def _sum_terms(expr: ir.Expr) -> list[ir.Expr]:
    """The terms of a sum (`a + b + sum(c, d)`), or the expression itself."""
    if (
        isinstance(expr, ir.BinOp)
        and expr.op == "+"
        and expr.shape is not None
        and not isinstance(expr.left, ir.Const)
        and not isinstance(expr.right, ir.Const)
    ):
        return _sum_terms(expr.left) + _sum_terms(expr.right)
    if isinstance(expr, ir.PrimCall) and expr.prim == "sum" and expr.args:
        return [t for arg in expr.args for t in _sum_terms(arg)]
    return [expr]


def _prim_label(call: ir.PrimCall) -> str:
    prim = PRIMITIVES.get(call.prim)
    defaults = {p.name: p.default for p in prim.params} if prim else {}
    shown = [(k, v) for k, v in call.params if k not in defaults or defaults[k] != v]
    return _call_text(call.prim, shown)


def _call_text(name: str, params) -> str:
    if not params:
        return name
    return f"{name}({', '.join(f'{k}={_value(v)}' for k, v in params)})"


def _value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, float):
        return _number(value)
    return str(value)


def _number(value: int | float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)
