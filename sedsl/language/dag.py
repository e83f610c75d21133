"""Builds the dataflow graph of a block or a composite op body.

Statements are unrolled first (loops over `start..stop` with constant bounds), then the
nodes are ordered by their dependencies, so a cycle is found and reported as one, then
each node is elaborated (sedsl/language/elaborate.py) in that order, and last every node
is checked to be used and to depend on an input. The result, the graph and every claim
it needs, comes back as one value.
"""

from __future__ import annotations

from sedsl.diagnostics.codes import Code
from sedsl.diagnostics.diagnostic import Label
from sedsl.frozen import frozen
from sedsl.language import ast, ir
from sedsl.language.elaborate import Elaboration, Elaborator, Library, NodeTable, unknown_op
from sedsl.language.names import check_python_name, indexed_display, indexed_py
from sedsl.language.values import (
    LV,
    MAX_UNROLL,
    SV,
    TV,
    Abort,
    NodeKey,
    PendingNode,
    Poison,
    Value,
)
from sedsl.ops.library import DIM_FUNCTIONS, PRIMITIVES
from sedsl.shapes.dims import Dim


@frozen
class BuiltGraph:
    """A graph (None when it could not be built; the reason was reported) and what it
    needs: the size claims of all its nodes and of its declared result, its searched
    edges, and the declarations it used."""

    graph: ir.Graph | None
    claims: tuple[ir.Claim, ...]
    edges: tuple[ir.EdgeIR, ...]
    used: frozenset[str]


class GraphBuilder:
    def __init__(
        self,
        lib: Library,
        scope: dict[str, Value],
        inputs: tuple[tuple[str, ir.Shape], ...],
        owner: str,
        *,
        opsets: dict[str, ir.OpSetIR] | None = None,
        allow_edges: bool = False,
    ):
        self.lib = lib
        self.diag = lib.diag
        self.scope = scope
        self.inputs = tuple(inputs)
        self.owner = owner
        self.opsets = opsets or {}
        self.allow_edges = allow_edges
        self.pending: dict[NodeKey, PendingNode] = {}
        self.families: dict[str, list[tuple[int, ...]]] = {}
        self.shared: dict[str, tuple[ast.Shared, str]] = {}
        self.used: set[str] = set()
        self.constants = Elaborator(lib, scope)  # loop bounds and indices: no tensors

    def build(
        self,
        body: tuple[ast.Stmt, ...],
        returns: ast.Expr,
        result: ir.Shape | None = None,
        result_what: str = "the result",
    ) -> BuiltGraph:
        """The graph of `body ... return returns`; with `result`, the returned tensor must
        have that shape, and the claims say so where it is not decided now."""
        self._unroll(body, {})
        elab = Elaborator(
            self.lib,
            self.scope,
            self.inputs,
            self.owner,
            nodes=NodeTable(
                {k: tuple(v) for k, v in self.families.items()},
                frozenset(self.pending),
                dict(self.shared),
            ),
            opsets=self.opsets,
            allow_edges=self.allow_edges,
        )
        order = self._order()
        if order is None:
            return self._result(None, elab.finish())
        nodes = [node for pending in order if (node := elab.node(pending)) is not None]
        try:
            output = elab.eval(returns, {})
        except Abort:
            return self._result(None, elab.finish())
        if isinstance(output, Poison):
            return self._result(None, elab.finish())
        if not isinstance(output, TV):
            self.diag.error(Code.MISPLACED, f"{self.owner} must return a tensor", returns.span)
            return self._result(None, elab.finish())
        if result is not None:
            elab.match_shape(output.shape, result, returns.span, Code.SHAPE_MISMATCH, result_what)
        self._check_use(elab, returns)
        done = elab.finish()
        graph = ir.Graph(self.inputs, tuple(nodes), output.expr, done.modules)
        return self._result(graph, done)

    def _result(self, graph: ir.Graph | None, done: Elaboration) -> BuiltGraph:
        return BuiltGraph(graph, done.claims, done.edges, done.used | self.used)

    # ---- unrolling -------------------------------------------------------------------
    def _unroll(self, stmts, env: dict[str, int]) -> None:
        for stmt in stmts:
            if isinstance(stmt, ast.Assign):
                self._define(stmt, env)
            elif isinstance(stmt, ast.Shared):
                self._define_shared(stmt)
            else:
                for i in self.constants.range(stmt.range, env):
                    self._unroll(stmt.body, {**env, stmt.var: i})

    def _index_value(self, expr: ast.Expr, env) -> int | None:
        try:
            value = self.constants.eval(expr, env)
        except Abort:
            return None
        if isinstance(value, SV) and isinstance(value.value, Dim):
            concrete = self.lib.concrete(value.value)
            if concrete.is_const and concrete.value.denominator == 1:
                return int(concrete.value)
        if not isinstance(value, Poison):
            self.diag.error(Code.NOT_CONSTANT, "an index must be a constant integer", expr.span)
        return None

    def _define(self, stmt: ast.Assign, env) -> None:
        target = stmt.target
        indices = [self._index_value(expr, env) for expr in target.indices]
        if None in indices:
            return
        key = (target.name, tuple(indices))
        display = indexed_display(*key)
        if (
            key in self.pending
            or (target.name, ()) in self.pending
            or (target.name in {n for n, _ in self.inputs})
        ):
            first = self.pending.get(key) or self.pending.get((target.name, ()))
            self.diag.error(
                Code.DUPLICATE,
                f"`{display}` is defined twice",
                target.span,
                label="redefined here",
                labels=(Label(first.span, "first defined here"),) if first else (),
                help="every node is assigned once; the DAG has no mutation",
            )
            return
        if target.name in self.scope:
            self.diag.error(
                Code.DUPLICATE,
                f"`{target.name}` is already a parameter or dimension name",
                target.span,
            )
            return
        check_python_name(self.diag, indexed_py(*key), target.span, "node")
        self.families.setdefault(target.name, []).append(key[1])
        self.pending[key] = PendingNode(key, stmt.value, tuple(env.items()), stmt.span)

    def _define_shared(self, stmt: ast.Shared) -> None:
        if stmt.name in self.shared:
            self.diag.error(Code.DUPLICATE, f"`{stmt.name}` is defined twice", stmt.span)
            return
        if stmt.op.id not in PRIMITIVES and self.lib.op_decl(stmt.op.id) is None:
            known = [*PRIMITIVES, *self.lib.op_names(), *DIM_FUNCTIONS]
            meant = unknown_op(self.diag, stmt.op, "op", known)
            if meant is not None:
                self.used.add(meant)
            return
        self.shared[stmt.name] = (stmt, stmt.name)

    # ---- dependency order ------------------------------------------------------------
    def _order(self) -> list[PendingNode] | None:
        deps = {key: self._deps(p) for key, p in self.pending.items()}
        order: list[PendingNode] = []
        state: dict[NodeKey, str] = {}

        def visit(key, path) -> bool:
            if state.get(key) == "done":
                return True
            if state.get(key) == "active":
                cycle = path[path.index(key) :] + [key]
                first = self.pending[cycle[0]]
                self.diag.error(
                    Code.CYCLE,
                    "the graph has a cycle: " + " -> ".join(indexed_display(*k) for k in cycle),
                    first.span,
                    labels=tuple(
                        Label(self.pending[k].span, f"`{indexed_display(*k)}` is defined here")
                        for k in cycle[1:-1]
                    ),
                    help="a block is a DAG: each node may use only nodes that do not use it",
                )
                return False
            state[key] = "active"
            for dep in sorted(deps[key]):
                if dep in self.pending and not visit(dep, path + [key]):
                    return False
            state[key] = "done"
            order.append(self.pending[key])
            return True

        for key in self.pending:
            if not visit(key, []):
                return None
        return order

    def _deps(self, pending: PendingNode) -> set[NodeKey]:
        found: set[NodeKey] = set()
        self._collect(pending.expr, pending.env_dict, found)
        return found

    def _collect(self, expr, env, found: set) -> None:
        if isinstance(expr, ast.Name):
            if expr.id in env:
                return
            for idx in self.families.get(expr.id, ()):
                found.add((expr.id, idx))
        elif isinstance(expr, ast.Index) and isinstance(expr.value, ast.Name):
            indices = [self.constants.const_index(i, env) for i in expr.indices]
            if None not in indices and (expr.value.id, tuple(indices)) in self.pending:
                found.add((expr.value.id, tuple(indices)))
            else:
                self._collect(expr.value, env, found)
            for i in expr.indices:
                self._collect(i, env, found)
        elif isinstance(expr, ast.Index):
            self._collect(expr.value, env, found)
            for i in expr.indices:
                self._collect(i, env, found)
        elif isinstance(expr, ast.Generator):
            for i in self._range_quiet(expr.range, env):
                self._collect(expr.element, {**env, expr.var: i}, found)
        elif isinstance(expr, ast.Call):
            for arg in expr.args:
                self._collect(arg, env, found)
            for kw in expr.kwargs:
                self._collect(kw.value, env, found)
        elif isinstance(expr, ast.Binary):
            self._collect(expr.left, env, found)
            self._collect(expr.right, env, found)
        elif isinstance(expr, ast.Unary):
            self._collect(expr.operand, env, found)

    def _range_quiet(self, rng: ast.Range, env) -> range:
        start = self.constants.const_index(rng.start, env)
        stop = self.constants.const_index(rng.stop, env)
        if start is None or stop is None or stop - start > MAX_UNROLL:
            return range(0)
        return range(start, stop)

    # ---- use ---------------------------------------------------------------------------
    def _check_use(self, elab: Elaborator, returns: ast.Expr) -> None:
        """Every node must feed the output (used) and depend on an input (reachable)."""
        deps = {key: self._deps(p) for key, p in self.pending.items()}
        used: set[NodeKey] = set()
        frontier: set[NodeKey] = set()
        self._collect(returns, {}, frontier)
        while frontier:
            key = frontier.pop()
            if key in used or key not in deps:
                continue
            used.add(key)
            frontier |= deps[key]
        input_names = {name for name, _ in self.inputs}
        reachable: dict[NodeKey, bool] = {}

        def reaches_input(key) -> bool:
            if key not in reachable:
                reachable[key] = False
                names: set[str] = set()
                _names(self.pending[key].expr, names)
                reachable[key] = bool(names & input_names) or any(
                    reaches_input(d) for d in deps[key] if d in self.pending
                )
            return reachable[key]

        for key, pending in self.pending.items():
            if not isinstance(elab.value_of(key), TV | LV):
                continue
            if key not in used:
                self.diag.error(
                    Code.UNUSED_NODE,
                    f"`{pending.display}` is computed but never used",
                    pending.span,
                    label="does not reach the result",
                    help="use it in the result, or remove it (an unused searched edge would "
                    "train alphas that change nothing)",
                )
            elif not reaches_input(key):
                self.diag.error(
                    Code.UNREACHABLE_NODE,
                    f"`{pending.display}` does not depend on the input",
                    pending.span,
                    label="unreachable from the input",
                    help="every node of an attention block is computed from its input",
                )


def _names(expr, found: set) -> None:
    if isinstance(expr, ast.Name):
        found.add(expr.id)
    elif isinstance(expr, ast.Index):
        _names(expr.value, found)
    elif isinstance(expr, ast.Generator):
        _names(expr.element, found)
    elif isinstance(expr, ast.Call):
        for a in expr.args:
            _names(a, found)
        for kw in expr.kwargs:
            _names(kw.value, found)
    elif isinstance(expr, ast.Binary):
        _names(expr.left, found)
        _names(expr.right, found)
    elif isinstance(expr, ast.Unary):
        _names(expr.operand, found)
