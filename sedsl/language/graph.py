"""Builds the dataflow graph of a block or composite op body.

Statements are unrolled first (loops over `start..stop` with constant bounds), then the
nodes are ordered by their dependencies, so a cycle is found and reported as one, and
then each node's expression is elaborated into IR with its symbolic shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sedsl.check.diagnostics import Label
from sedsl.language import ast, ir
from sedsl.language.names import did_you_mean, indexed_display, indexed_py
from sedsl.language.resolve import (
    COMPARISONS,
    LV,
    MAX_UNROLL,
    POISON,
    SV,
    TV,
    Poison,
    Value,
    _Abort,
    _shape_text,
)
from sedsl.language.span import Span
from sedsl.ops.library import DIM_FUNCTIONS, PRIMITIVES
from sedsl.ops.primitive import Obligation, Primitive, ShapeContext, ShapeError
from sedsl.shapes.dims import Dim

if TYPE_CHECKING:
    from sedsl.language.resolve import Resolver

LIST_REDUCERS = ("sum", "mean", "concat", "mix")


@dataclass
class _Pending:
    key: tuple[str, tuple[int, ...]]
    expr: ast.Expr
    env: dict[str, int]
    span: Span

    @property
    def display(self) -> str:
        return indexed_display(*self.key)

    @property
    def py(self) -> str:
        return indexed_py(*self.key)


class GraphBuilder:
    def __init__(
        self,
        resolver: Resolver,
        scope: dict[str, Value],
        inputs: list[tuple[str, ir.Shape]],
        owner: str,
        allow_edges: bool,
        opsets: dict[str, ir.OpSetIR] | None = None,
    ):
        self.res = resolver
        self.diag = resolver.diag
        self.scope = scope
        self.inputs = inputs
        self.owner = owner
        self.allow_edges = allow_edges
        self.opsets = opsets or {}
        self.obligations: list[tuple[Obligation, str, Span]] = []
        self.edges: list[ir.EdgeIR] = []
        self.modules: list[ir.Module] = []
        self.shared: dict[str, tuple[ast.Shared, str]] = {}
        self.values: dict[tuple[str, tuple[int, ...]], Value] = {}
        self.pending: dict[tuple[str, tuple[int, ...]], _Pending] = {}
        self.families: dict[str, list[tuple[int, ...]]] = {}
        self.current: _Pending | None = None
        self.edge_in_current = False
        self.last_params: tuple = ()

    # ---- the whole graph ------------------------------------------------------------
    def build(self, body: tuple[ast.Stmt, ...], returns: ast.Expr) -> ir.Graph | None:
        for name, shape in self.inputs:
            self.values[(name, ())] = TV(ir.Ref(name, shape), shape)
        self._unroll(body, {})
        order = self._order()
        if order is None:
            return None
        nodes = []
        for pending in order:
            node = self._elaborate(pending)
            if node is not None:
                nodes.append(node)
        try:
            output = self.eval(returns, {})
        except _Abort:
            return None
        if isinstance(output, Poison):
            return None
        if not isinstance(output, TV):
            self.diag.error("E015", f"{self.owner} must return a tensor", returns.span)
            return None
        self._check_use(nodes, returns)
        return ir.Graph(
            tuple((n, s) for n, s in self.inputs), tuple(nodes), output.expr, tuple(self.modules)
        )

    def _unroll(self, stmts, env: dict[str, int]) -> None:
        for stmt in stmts:
            if isinstance(stmt, ast.Assign):
                self._define(stmt, env)
            elif isinstance(stmt, ast.Shared):
                self._define_shared(stmt)
            else:
                for i in self._range(stmt.range, env):
                    self._unroll(stmt.body, {**env, stmt.var: i})

    def _range(self, rng: ast.Range, env) -> range:
        bounds = []
        for expr in (rng.start, rng.stop):
            value = self.res.concrete(self.res.scalar_expr(expr, {**self.scope, **_ints(env)}))
            if not (isinstance(value, Dim) and value.is_const):
                if value is not None:
                    self.diag.error(
                        "E012",
                        "loop bounds must be constant integers",
                        expr.span,
                        notes=(f"this evaluates to `{value}`",),
                    )
                return range(0)
            bounds.append(int(value.value))
        if bounds[1] - bounds[0] > MAX_UNROLL:
            self.diag.error(
                "E012",
                f"this loop would unroll {bounds[1] - bounds[0]:,} times",
                rng.span,
                help=f"a block unrolls at most {MAX_UNROLL} nodes",
            )
            return range(0)
        return range(bounds[0], bounds[1])

    def _define(self, stmt: ast.Assign, env) -> None:
        target = stmt.target
        indices = []
        for expr in target.indices:
            value = self.res.concrete(self.res.scalar_expr(expr, {**self.scope, **_ints(env)}))
            if not (isinstance(value, Dim) and value.is_const):
                self.diag.error("E012", "an index must be a constant integer", expr.span)
                return
            indices.append(int(value.value))
        key = (target.name, tuple(indices))
        display = indexed_display(*key)
        if key in self.pending or (target.name, ()) in self.values:
            first = self.pending[key].span if key in self.pending else None
            self.diag.error(
                "E011",
                f"`{display}` is defined twice",
                target.span,
                label="redefined here",
                labels=(Label(first, "first defined here"),) if first else (),
                help="every node is assigned once; the DAG has no mutation",
            )
            return
        if target.name in self.scope:
            self.diag.error(
                "E011",
                f"`{target.name}` is already a parameter or dimension name",
                target.span,
            )
            return
        self.res._check_local_name(indexed_py(*key), target.span, "node")
        self.families.setdefault(target.name, []).append(key[1])
        self.pending[key] = _Pending(key, stmt.value, dict(env), stmt.span)

    def _define_shared(self, stmt: ast.Shared) -> None:
        if stmt.name in self.shared:
            self.diag.error("E011", f"`{stmt.name}` is defined twice", stmt.span)
            return
        if stmt.op.id not in self.res.decls.ops and stmt.op.id not in PRIMITIVES:
            self._unknown(stmt.op, "op")
            return
        self.shared[stmt.name] = (stmt, self._module_name(stmt.name))

    # ---- dependency order ------------------------------------------------------------
    def _order(self) -> list[_Pending] | None:
        deps = {key: self._deps(p) for key, p in self.pending.items()}
        order, state = [], {}

        def visit(key, path):
            if state.get(key) == "done":
                return True
            if state.get(key) == "active":
                cycle = path[path.index(key) :] + [key]
                first = self.pending[cycle[0]]
                self.diag.error(
                    "E030",
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
            for dep in deps[key]:
                if dep in self.pending and not visit(dep, path + [key]):
                    return False
            state[key] = "done"
            order.append(self.pending[key])
            return True

        for key in self.pending:
            if not visit(key, []):
                return None
        return order

    def _deps(self, pending: _Pending) -> set:
        found: set = set()
        self._collect(pending.expr, pending.env, found)
        return found

    def _collect(self, expr, env, found: set) -> None:
        if isinstance(expr, ast.Name):
            if expr.id in env:
                return
            for idx in self.families.get(expr.id, ()):
                found.add((expr.id, idx))
        elif isinstance(expr, ast.Index) and isinstance(expr.value, ast.Name):
            indices = [self._const_index(i, env) for i in expr.indices]
            if None not in indices and (expr.value.id, tuple(indices)) in self.pending:
                found.add((expr.value.id, tuple(indices)))
            else:
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

    def _const_index(self, expr, env) -> int | None:
        if isinstance(expr, ast.Number) and isinstance(expr.value, int):
            return expr.value
        if isinstance(expr, ast.Name) and expr.id in env:
            return env[expr.id]
        try:
            value = self.eval(expr, env, quiet=True)
        except _Abort:
            return None
        if isinstance(value, SV) and isinstance(value.value, Dim):
            concrete = self.res.concrete(value.value)
            if concrete.is_const:
                return int(concrete.value)
        return None

    def _range_quiet(self, rng, env) -> range:
        start, stop = self._const_index(rng.start, env), self._const_index(rng.stop, env)
        if start is None or stop is None or stop - start > MAX_UNROLL:
            return range(0)
        return range(start, stop)

    # ---- nodes ---------------------------------------------------------------------------
    def _elaborate(self, pending: _Pending) -> ir.Node | None:
        self.current, self.edge_in_current = pending, False
        try:
            value = self.eval(pending.expr, pending.env)
        except _Abort:
            value = POISON
        finally:
            self.current = None
        self.values[pending.key] = value
        if isinstance(value, TV):
            # later uses refer to the node by name, not by repeating its expression
            self.values[pending.key] = TV(ir.Ref(pending.py, value.shape), value.shape)
            return ir.Node(pending.display, pending.py, value.expr, value.shape, pending.span)
        if isinstance(value, LV):
            expr = (
                value.items[0].expr.base
                if value.items and isinstance(value.items[0].expr, ir.Item)
                else None
            )
            if expr is not None:
                return ir.Node(
                    pending.display, pending.py, expr, None, pending.span, length=len(value.items)
                )
        if isinstance(value, SV):
            self.diag.error(
                "E015",
                f"`{pending.display}` is a number, not a tensor; nodes hold tensors",
                pending.span,
                help="put numbers in a `param`, or use them inline",
            )
            self.values[pending.key] = POISON
        return None

    def _check_use(self, nodes: list[ir.Node], returns: ast.Expr) -> None:
        """Every node must feed the output (used) and depend on an input (reachable)."""
        deps = {p.key: self._deps(p) for p in self.pending.values()}
        used: set = set()
        frontier: set = set()
        self._collect(returns, {}, frontier)
        while frontier:
            key = frontier.pop()
            if key in used or key not in deps:
                continue
            used.add(key)
            frontier |= deps[key]
        input_names = {name for name, _ in self.inputs}
        reachable: dict = {}

        def reaches_input(key) -> bool:
            if key not in reachable:
                reachable[key] = False
                pending = self.pending[key]
                names: set = set()
                _names(pending.expr, names)
                reachable[key] = bool(names & input_names) or any(
                    reaches_input(d) for d in deps[key] if d in self.pending
                )
            return reachable[key]

        for key, pending in self.pending.items():
            if not isinstance(self.values.get(key), TV | LV):
                continue
            if key not in used:
                self.diag.error(
                    "E031",
                    f"`{pending.display}` is computed but never used",
                    pending.span,
                    label="does not reach the result",
                    help="use it in the result, or remove it (an unused searched edge would "
                    "train alphas that change nothing)",
                )
            elif not reaches_input(key):
                self.diag.error(
                    "E032",
                    f"`{pending.display}` does not depend on the input",
                    pending.span,
                    label="unreachable from the input",
                    help="every node of an attention block is computed from its input",
                )

    # ---- expressions ---------------------------------------------------------------------
    def eval(self, expr, env: dict[str, int], quiet: bool = False) -> Value:
        if isinstance(expr, ast.Number):
            v = expr.value
            return SV(Dim.const(v) if isinstance(v, int) else float(v))
        if isinstance(expr, ast.Bool | ast.String):
            return SV(expr.value)
        if isinstance(expr, ast.Name):
            return self._name(expr, env, quiet)
        if isinstance(expr, ast.Index):
            return self._index(expr, env, quiet)
        if isinstance(expr, ast.Unary):
            return self._unary(expr, env)
        if isinstance(expr, ast.Binary):
            return self._binary(expr, env)
        if isinstance(expr, ast.Call):
            return self._call_expr(expr, env)
        if isinstance(expr, ast.Generator):
            self._fail(
                "E015", "a generator can only be the argument of sum, mean or concat", expr.span
            )
        self._fail("E015", "unsupported expression", expr.span)

    def _fail(self, code: str, message: str, span: Span, **details):
        self.diag.error(code, message, span, **details)
        raise _Abort

    def _name(self, expr: ast.Name, env, quiet) -> Value:
        name = expr.id
        if name in env:
            return SV(Dim.const(env[name]))
        if (name, ()) in self.values:
            return self.values[(name, ())]
        if name in self.families:
            keys = sorted(self.families[name])
            if keys == [()]:
                if quiet:
                    raise _Abort
                return self.values.get((name, ()), POISON)
            items = [self.values.get((name, k), POISON) for k in keys]
            if any(isinstance(i, Poison) for i in items):
                return POISON
            return LV(tuple(items))
        if name in self.scope:
            return self.scope[name]
        if quiet:
            raise _Abort
        known = [*self.scope, *env, *self.families, *(n for n, _ in self.inputs)]
        hint = did_you_mean(name, known)
        suffix = f"; {hint}" if hint else ""  # in the message, so one-line formats show it
        self._fail("E010", f"unknown name `{name}`{suffix}", expr.span, label="not defined")

    def _index(self, expr: ast.Index, env, quiet) -> Value:
        indices = [self._const_index(i, env) for i in expr.indices]
        if None in indices:
            self._fail("E012", "an index must be a constant integer", expr.span)
        if isinstance(expr.value, ast.Name):
            key = (expr.value.id, tuple(indices))
            if key in self.values:
                return self.values[key]
            family = self.families.get(expr.value.id, [()])
            if () not in family and key not in self.pending:
                defined = ", ".join(
                    indexed_display(expr.value.id, k) for k in sorted(self.families[expr.value.id])
                )
                self._fail(
                    "E010",
                    f"`{indexed_display(*key)}` is not defined",
                    expr.span,
                    notes=(f"defined are: {defined}",),
                )
        base = self.eval(expr.value, env, quiet)
        if isinstance(base, Poison):
            return POISON
        if isinstance(base, LV):
            if len(indices) != 1 or not 0 <= indices[0] < len(base.items):
                self._fail(
                    "E012",
                    f"index {indices} is out of range for a list of {len(base.items)}",
                    expr.span,
                )
            return base.items[indices[0]]
        self._fail("E015", "only lists (e.g. the result of split) can be indexed", expr.span)

    def _unary(self, expr: ast.Unary, env) -> Value:
        value = self.eval(expr.operand, env)
        if isinstance(value, Poison):
            return POISON
        if expr.op == "-":
            if isinstance(value, SV) and isinstance(value.value, Dim | float):
                return SV(-value.value)
            if isinstance(value, TV):
                return TV(ir.Neg(value.expr, value.shape), value.shape)
        self._fail("E015", f"`{expr.op}` does not apply here", expr.span)

    def _binary(self, expr: ast.Binary, env) -> Value:
        left, right = self.eval(expr.left, env), self.eval(expr.right, env)
        if isinstance(left, Poison) or isinstance(right, Poison):
            return POISON
        if isinstance(left, SV) and isinstance(right, SV):
            return self._scalar_binary(expr, left.value, right.value)
        if expr.op not in ("+", "-", "*", "/"):
            self._fail(
                "E015",
                f"`{expr.op}` does not apply to tensors",
                expr.span,
                help="tensors combine with + - * /",
            )
        if isinstance(left, LV) or isinstance(right, LV):
            self._fail(
                "E015",
                "a list cannot take part in arithmetic",
                expr.span,
                help="reduce it first: sum(U), mean(U) or concat(U)",
            )
        if isinstance(left, TV) and isinstance(right, TV):
            shape = self._broadcast(left.shape, right.shape, expr)
        else:
            tensor, scalar = (left, right) if isinstance(left, TV) else (right, left)
            if not isinstance(scalar.value, Dim | float) or (
                isinstance(scalar.value, Dim) and not scalar.value.is_const
            ):
                self._fail("E015", "tensors combine with constant numbers only", expr.span)
            if expr.op in ("+", "-") and scalar is right and _is_zero(scalar.value):
                return left  # `U + sum(<empty>)`, the first node of a HOGA chain
            shape = tensor.shape
        return TV(ir.BinOp(expr.op, _operand(left), _operand(right), shape), shape)

    def _scalar_binary(self, expr: ast.Binary, a, b) -> SV:
        if expr.op in ("and", "or") or expr.op in COMPARISONS:
            self._fail("E015", f"`{expr.op}` is allowed only in `require`", expr.span)
        if isinstance(a, Dim) and isinstance(b, Dim):
            if expr.op in ("/", "//", "%") and b.is_int(0):
                self._fail("E012", "division by zero", expr.span)
            if expr.op == "**":
                if not (b.is_const and b.value.denominator == 1 and 0 <= b.value <= 64):
                    self._fail(
                        "E012", "exponents of dims are small non-negative integers", expr.span
                    )
                result = Dim.const(1)
                for _ in range(int(b.value)):
                    result = result * a
                return SV(result)
            ops = {
                "+": lambda: a + b,
                "-": lambda: a - b,
                "*": lambda: a * b,
                "/": lambda: a.exact_div(b),
                "//": lambda: a // b,
                "%": lambda: a % b,
            }
            result = ops[expr.op]()
            if expr.op == "/":
                self._require(
                    a % b,
                    "==",
                    Dim.const(0),
                    "E012",
                    expr.span,
                    f"`/` on sizes must divide exactly: {a} / {b}",
                )
            return SV(result)
        if isinstance(a, Dim) and a.is_const:
            a = float(a.value)
        if isinstance(b, Dim) and b.is_const:
            b = float(b.value)
        if isinstance(a, float) and isinstance(b, float):
            from sedsl.language.resolve import _arith

            try:
                return SV(float(_arith(expr.op, a, b)))
            except (ZeroDivisionError, OverflowError):
                self._fail("E012", "arithmetic error in a constant", expr.span)
        self._fail("E012", f"`{expr.op}` needs numbers on both sides", expr.span)

    def _broadcast(self, a: ir.Shape, b: ir.Shape, expr: ast.Binary) -> ir.Shape:
        if len(a) != len(b):
            self._fail(
                "E021",
                f"cannot broadcast {_shape_text(a)} with {_shape_text(b)}: ranks differ",
                expr.span,
            )
        out = []
        for axis, (x, y) in enumerate(zip(a, b, strict=True)):
            if x == y or y.is_int(1):
                out.append(x)
            elif x.is_int(1):
                out.append(y)
            elif x.is_const and y.is_const:
                self._fail(
                    "E021",
                    f"cannot broadcast {_shape_text(a)} with {_shape_text(b)}",
                    expr.span,
                    labels=(
                        Label(expr.left.span, f"this has {_shape_text(a)}"),
                        Label(expr.right.span, f"this has {_shape_text(b)}"),
                    ),
                    notes=(f"axis {axis}: {x} and {y} differ and neither is 1",),
                )
            else:
                self._require(
                    x,
                    "==",
                    y,
                    "E021",
                    expr.span,
                    f"broadcasting {_shape_text(a)} with {_shape_text(b)} needs {x} == {y}",
                )
                out.append(x)
        return tuple(out)

    def _require(self, lhs: Dim, op: str, rhs: Dim, code: str, span: Span, reason: str) -> None:
        self.obligations.append((Obligation(lhs, op, rhs, reason), code, span))

    def match_shape(self, actual, declared, span, code, what, note=None) -> None:
        """`actual` must equal `declared`; decided now when constant, else an obligation."""
        if len(actual) != len(declared):
            self.diag.error(
                code,
                f"{what} has shape {_shape_text(actual)}, expected {_shape_text(declared)}",
                span,
                notes=(note,) if note else (),
            )
            return
        for axis, (x, y) in enumerate(zip(actual, declared, strict=True)):
            if x == y:
                continue
            if x.is_const and y.is_const:
                self.diag.error(
                    code,
                    f"{what} has shape {_shape_text(actual)}, expected {_shape_text(declared)}",
                    span,
                    label=f"axis {axis} is {x}, expected {y}",
                    notes=(note,) if note else (),
                )
                return
            reason = f"{what} has shape {_shape_text(actual)}, expected {_shape_text(declared)}"
            self._require(x, "==", y, code, span, reason)

    # ---- calls ---------------------------------------------------------------------------
    def _call_expr(self, expr: ast.Call, env) -> Value:
        name = expr.func.id
        if name in DIM_FUNCTIONS:
            return self._dim_function(expr, env)
        args: list[Value] = []
        for arg in expr.args:
            if isinstance(arg, ast.Generator):
                if name not in LIST_REDUCERS:
                    self._fail("E015", f"`{name}` does not take a generator", arg.span)
                items = [
                    self.eval(arg.element, {**env, arg.var: i}) for i in self._range(arg.range, env)
                ]
                args.append(LV(tuple(items)))
            else:
                args.append(self.eval(arg, env))
        if any(isinstance(a, Poison) for a in args):
            return POISON
        if any(isinstance(a, LV) for a in args):
            if name not in LIST_REDUCERS:
                self._fail("E015", f"`{name}` does not take a list", expr.span)
            flat = []
            for a in args:
                flat.extend(a.items if isinstance(a, LV) else [a])
            if any(isinstance(a, Poison) for a in flat):
                return POISON
            if not flat:
                return (
                    SV(Dim.const(0))
                    if name == "sum"
                    else self._fail("E013", f"`{name}` of an empty list", expr.span)
                )
            args = flat
        if name in self.opsets:
            return self._edge(expr, args)
        if name in self.shared:
            return self._shared_call(expr, args, env)
        return self.call(expr.func, args, expr.kwargs, expr.span, env)

    def _dim_function(self, expr: ast.Call, env) -> SV:
        if expr.func.id == "ceil":
            arg = expr.args[0] if len(expr.args) == 1 else None
            if not (isinstance(arg, ast.Binary) and arg.op == "/"):
                self._fail("E013", "`ceil` takes one division, e.g. ceil(H / k)", expr.span)
            expr = ast.Call(expr.func, (arg.left, arg.right), (), span=expr.span)
        values = [self.eval(a, env) for a in expr.args]
        if not values or not all(isinstance(v, SV) and isinstance(v.value, Dim) for v in values):
            self._fail("E012", f"`{expr.func.id}` takes integer dims", expr.span)
        dims = [v.value for v in values]
        if expr.func.id == "ceil":
            return SV(dims[0].ceildiv(dims[1]))
        return SV(Dim.maximum(*dims) if expr.func.id == "max" else Dim.minimum(*dims))

    def _edge(self, expr: ast.Call, args: list[Value]) -> Value:
        opset = self.opsets[expr.func.id]
        self.res.used.add(opset.name)
        if not self.allow_edges:
            self._fail(
                "E015", f"op set `{opset.name}` can only be searched in the block", expr.span
            )
        if self.current is None:
            self._fail(
                "E015",
                "a searched edge must be assigned to a node, which names it",
                expr.span,
                help=f"write e.g. `s = {opset.name}(...)` and use `s`",
            )
        if self.edge_in_current:
            self._fail(
                "E015",
                "an assignment may hold only one searched edge",
                expr.span,
                help="give each searched edge its own node: the node names the edge",
            )
        if len(args) != 1 or expr.kwargs or not isinstance(args[0], TV):
            self._fail("E013", f"op set `{opset.name}` takes one tensor", expr.span)
        self.edge_in_current = True
        arg = args[0]
        mapping = _bind_symbols(opset.input, arg.shape)
        self.match_shape(
            arg.shape,
            tuple(d.subs(mapping) for d in opset.input),
            expr.args[0].span,
            "E023",
            f"the input of searched edge `{self.current.display}`",
            note=f"op set `{opset.name}` takes {_shape_text(opset.input)}",
        )
        if any(Dim.sym(k) != v for k, v in mapping.items()):
            # the candidates were checked on the set's own symbols; check them again on
            # this edge's sizes (HOGA's groups have C / K channels)
            for cand in opset.candidates:
                for ob, code, _ in self.res.candidate_obligations.get((opset.name, cand.label), []):
                    inst = Obligation(
                        ob.lhs.subs(mapping),
                        ob.op,
                        ob.rhs.subs(mapping),
                        f"{ob.reason} (candidate `{cand.label}` on edge `{self.current.display}`)",
                    )
                    self.obligations.append((inst, code, cand.span))
        result = tuple(d.subs(mapping) for d in opset.result)
        edge = ir.EdgeIR(
            self.current.display, self.current.py, opset.name, arg.shape, self.current.span
        )
        self.edges.append(edge)
        return TV(ir.EdgeCall(edge.py, arg.expr, result), result)

    def _shared_call(self, expr: ast.Call, args, env) -> Value:
        stmt, attr = self.shared[expr.func.id]
        if expr.kwargs:
            self._fail(
                "E012",
                "a shared instance takes its parameters where it is declared",
                expr.kwargs[0].span,
            )
        value = self.call(stmt.op, args, stmt.kwargs, expr.span, env, module_hint=attr, shared=True)
        return value

    def call(
        self, func: ast.Name, args, kwargs, span, env, module_hint=None, shared=False
    ) -> Value:
        name = func.id
        tensors = [a for a in args if isinstance(a, TV)]
        if len(tensors) != len(args):
            self._fail(
                "E015",
                f"`{name}` takes tensors as positional arguments",
                span,
                help="parameters are passed by keyword, e.g. conv2d(x, out=1, k=3)",
            )
        if name in PRIMITIVES:
            return self._primitive(
                PRIMITIVES[name], func, tensors, kwargs, span, env, module_hint, shared
            )
        if name in self.res.decls.ops:
            return self._composite(name, func, tensors, kwargs, span, env, module_hint, shared)
        self._unknown(func, "op")

    def _unknown(self, func: ast.Name, kind: str):
        known = [*PRIMITIVES, *self.res.decls.ops, *self.opsets, *self.shared, *DIM_FUNCTIONS]
        hint = did_you_mean(func.id, known)
        if hint is not None:  # the user meant that one: no "never used" warning for it too
            self.res.used.add(hint.split("`")[1])
        suffix = f"; {hint}" if hint else ""  # in the message, so one-line formats show it
        self._fail("E010", f"unknown {kind} `{func.id}`{suffix}", func.span, label="not defined")

    def _kwargs(self, name, specs: dict[str, str], kwargs, env, required: set[str]) -> dict:
        values: dict = {}
        for kw in kwargs:
            if kw.name not in specs:
                self._fail(
                    "E012",
                    f"`{name}` has no parameter `{kw.name}`",
                    kw.span,
                    notes=("its parameters are " + (", ".join(specs) or "none"),),
                    help=did_you_mean(kw.name, specs),
                )
            if kw.name in values:
                self._fail("E012", f"parameter `{kw.name}` is given twice", kw.span)
            value = self.eval(kw.value, env)
            if isinstance(value, Poison):
                raise _Abort
            if not isinstance(value, SV):
                self._fail("E012", f"parameter `{kw.name}` takes a value, not a tensor", kw.span)
            values[kw.name] = self._coerce(name, kw, specs[kw.name], value.value)
        missing = [r for r in required if r not in values]
        if missing:
            self._fail(
                "E012",
                f"`{name}` needs parameter " + ", ".join(f"`{m}`" for m in missing),
                kwargs[-1].span
                if kwargs
                else self.current.span
                if self.current
                else Span.point("<none>"),
            )
        return values

    def _coerce(self, name, kw, type_: str, value):
        wrong = None
        if isinstance(value, ir.ParamRef):
            if value.type == type_ or (type_ == "float" and value.type == "int"):
                return value
            self._fail(
                "E012",
                f"parameter `{kw.name}` of `{name}` takes {type_}, got {value.type} "
                f"parameter `{value.name}`",
                kw.value.span,
            )
        if type_ in ("dim", "int"):
            if isinstance(value, Dim) and all(c.denominator == 1 for _, c in value.terms):
                return value
            wrong = "an integer"
        elif type_ == "float":
            if isinstance(value, Dim) and value.is_const:
                return float(value.value)
            if isinstance(value, float):
                return value
            if isinstance(value, Dim):
                return value  # a symbolic int parameter used as a float
            wrong = "a number"
        elif type_ == "bool":
            if isinstance(value, bool):
                return value
            wrong = "true or false"
        elif type_ == "str":
            if isinstance(value, str):
                return value
            wrong = "a string"
        self._fail(
            "E012",
            f"parameter `{kw.name}` of `{name}` takes {wrong}, got `{_value_text(value)}`",
            kw.value.span,
        )

    def _primitive(self, prim: Primitive, func, tensors, kwargs, span, env, hint, shared):
        if prim.arity is not None and len(tensors) != prim.arity:
            self._fail(
                "E013",
                f"`{prim.name}` takes {prim.arity} tensor input{'s' * (prim.arity != 1)}, "
                f"got {len(tensors)}",
                span,
                notes=(f"signature: {prim.name}: {prim.signature}",),
            )
        if prim.arity is None and not tensors:
            self._fail("E013", f"`{prim.name}` needs at least one tensor", span)
        specs = {p.name: p.type for p in prim.params}
        required = {p.name for p in prim.params if p.default is None and p.name not in ("kh", "kw")}
        given = self._kwargs(prim.name, specs, kwargs, env, required)
        params = {p.name: p.default for p in prim.params}
        params.update(given)
        for p in prim.params:
            if p.choices and params[p.name] not in p.choices:
                kw = next(k for k in kwargs if k.name == p.name)
                self._fail(
                    "E012",
                    f"`{p.name}` must be one of " + ", ".join(f'"{c}"' for c in p.choices),
                    kw.value.span,
                )
        ctx = ShapeContext()
        try:
            shape = prim.infer(ctx, [t.shape for t in tensors], params)
        except ShapeError as exc:
            code = "E022" if prim.name == "concat" else "E023"
            self._fail(
                code,
                f"`{prim.name}`: {exc.message}",
                span,
                help=exc.help,
                notes=(f"signature: {prim.name}: {prim.signature}",),
            )
        code = "E022" if prim.name == "concat" else "E024"
        for ob in ctx.obligations:
            self.obligations.append((ob, code, span))
        kept = tuple((k, v) for k, v in params.items() if v is not None)
        module = None
        if prim.stateful:
            module = hint if shared else self._module_name(prim.name)
            if not shared or module not in {m.attr for m in self.modules}:
                self.modules.append(
                    ir.Module(module, "prim", prim.name, kept, tuple(t.shape for t in tensors))
                )
        if prim.returns_list:
            parts = self.res.concrete(params["parts"])
            if not parts.is_const:
                self._fail("E012", "split needs a constant number of parts", span)
            base = ir.PrimCall(prim.name, tuple(t.expr for t in tensors), kept, module, None)
            return LV(tuple(TV(ir.Item(base, i, shape), shape) for i in range(int(parts.value))))
        self.last_params = kept
        return TV(
            ir.PrimCall(prim.name, tuple(t.expr for t in tensors), kept, module, shape), shape
        )

    def _composite(self, name, func, tensors, kwargs, span, env, hint, shared):
        self.res.used.add(name)
        op = self.res.op_ir(name)
        if op is None:
            if self.res.op_cache.get(name, 0) is None and name in self.res.op_cache:
                pass
            raise _Abort
        decl = self.res.decls.ops[name]
        declared = [p for p in decl.params if isinstance(p, ast.TensorParam)]
        if len(tensors) != len(declared):
            self._fail(
                "E013",
                f"op `{name}` takes {len(declared)} tensor input(s), got {len(tensors)}",
                span,
                labels=(Label(decl.span, "declared here"),),
            )
        specs = {p.name: p.type for p in op.params}
        required = {p.name for p in op.params if p.default is None}
        given = self._kwargs(name, specs, kwargs, env, required)
        mapping: dict[str, Dim] = {}
        for (pname, pshape), arg in zip(op.graph.inputs, tensors, strict=True):
            mapping.update(_bind_symbols(pshape, arg.shape, mapping))
            expected = tuple(d.subs(mapping) for d in pshape)
            self.match_shape(
                arg.shape, expected, span, "E023", f"argument `{pname}` of op `{name}`"
            )
        mapping.update(op.param_dims(given))
        for ob, code, _ in self.res.op_obligations.get(name, []):
            inst = Obligation(
                ob.lhs.subs(mapping), ob.op, ob.rhs.subs(mapping), f"{ob.reason} (in op `{name}`)"
            )
            self.obligations.append((inst, code, span))
        result = tuple(d.subs(mapping) for d in op.result)
        params = tuple((p.name, given.get(p.name, p.default)) for p in op.params)
        module = hint if shared else self._module_name(name)
        if not shared or module not in {m.attr for m in self.modules}:
            self.modules.append(
                ir.Module(module, "op", name, params, tuple(t.shape for t in tensors))
            )
        self.last_params = params
        return TV(ir.OpCall(name, tuple(t.expr for t in tensors), module, result), result)

    def _module_name(self, base: str) -> str:
        owner = self.current.py if self.current is not None else ""
        stem = f"{owner}_{base}" if owner else base
        taken = {m.attr for m in self.modules} | {attr for _, attr in self.shared.values()}
        if stem not in taken:
            return stem
        i = 1
        while f"{stem}_{i}" in taken:
            i += 1
        return f"{stem}_{i}"


def _is_zero(value) -> bool:
    return value == 0 or (isinstance(value, Dim) and value.is_int(0))


def _operand(value: Value) -> ir.Expr:
    if isinstance(value, TV):
        return value.expr
    v = value.value
    if isinstance(v, Dim):
        v = v.value
        v = int(v) if v.denominator == 1 else float(v)
    return ir.Const(v)


def _bind_symbols(declared: ir.Shape, actual: ir.Shape, known=None) -> dict[str, Dim]:
    """Bind the bare symbols of a declared shape to the actual dims at a call site."""
    mapping: dict[str, Dim] = dict(known or {})
    for d, a in zip(declared, actual, strict=False):
        if len(d.terms) == 1 and d.symbols() and str(d) in d.symbols() and str(d) not in mapping:
            mapping[str(d)] = a
    return mapping


def _ints(env: dict[str, int]) -> dict[str, Value]:
    return {k: SV(Dim.const(v)) for k, v in env.items()}


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
    elif isinstance(expr, ast.Binary):
        _names(expr.left, found)
        _names(expr.right, found)
    elif isinstance(expr, ast.Unary):
        _names(expr.operand, found)


def _value_text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    return str(value)
