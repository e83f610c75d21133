"""Expression elaboration and shape inference: one node's AST expression becomes IR with
its symbolic shape, and every size condition it needs becomes a Claim.

An Elaborator serves one graph (a block, a composite op body, one op-set candidate, or a
lone scalar expression). What it found, claims, submodules, searched edges and the
declarations it used, comes back from `finish()` as one value.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import field
from typing import Protocol

from sedsl.diagnostics.codes import Code
from sedsl.diagnostics.diagnostic import Diagnostics, Label
from sedsl.diagnostics.span import Span
from sedsl.frozen import frozen
from sedsl.language import ast, ir
from sedsl.language.names import did_you_mean, indexed_display
from sedsl.language.values import (
    COMPARISONS,
    LV,
    MAX_UNROLL,
    POISON,
    SV,
    TV,
    Abort,
    NodeKey,
    PendingNode,
    Poison,
    Value,
    shape_text,
)
from sedsl.ops.library import DIM_FUNCTIONS, PRIMITIVES
from sedsl.ops.primitive import Obligation, Primitive, ShapeContext, ShapeError
from sedsl.shapes.dims import Dim

LIST_REDUCERS = ("sum", "mean", "concat", "mix")


class Library(Protocol):
    """What elaboration needs from the resolver: the diagnostics, the space's parameter
    values and the composite ops. (A protocol, so this module never imports the resolver.)"""

    diag: Diagnostics

    def concrete(self, value): ...

    def op_decl(self, name: str) -> ast.OpDef | None: ...

    def op_ir(self, name: str) -> ir.OpIR | None: ...

    def op_names(self) -> Iterable[str]: ...

    def out_of_scope(self, name: str) -> str | None:
        """Why `name`, unknown here, is known elsewhere in the space (a help line), if it is."""


@frozen
class NodeTable:
    """The unrolled nodes of a graph, known before any is elaborated."""

    families: dict[str, tuple[tuple[int, ...], ...]] = field(default_factory=dict)
    keys: frozenset[NodeKey] = frozenset()
    shared: dict[str, tuple[ast.Shared, str]] = field(default_factory=dict)  # name -> attr


NO_NODES = NodeTable()  # a graph without nodes (a candidate, a scalar): read, never changed


@frozen
class Elaboration:
    """Everything one Elaborator found besides the values it returned."""

    claims: tuple[ir.Claim, ...]
    modules: tuple[ir.Module, ...]
    edges: tuple[ir.EdgeIR, ...]
    used: frozenset[str]  # op and op set names used (or meant, behind a typo)


def known_op(lib: Library, name: str) -> bool:
    return name in PRIMITIVES or lib.op_decl(name) is not None


def unknown_op(diag: Diagnostics, func: ast.Name, kind: str, known) -> str | None:
    """Report an unknown name; return the name it most likely meant, if any."""
    hint = did_you_mean(func.id, known)
    suffix = f"; {hint}" if hint else ""  # in the message, so one-line formats show it
    diag.error(
        Code.UNKNOWN_NAME, f"unknown {kind} `{func.id}`{suffix}", func.span, label="not defined"
    )
    return hint.split("`")[1] if hint else None


class Elaborator:
    def __init__(
        self,
        lib: Library,
        scope: dict[str, Value],
        inputs: tuple[tuple[str, ir.Shape], ...] = (),
        owner: str = "",
        *,
        nodes: NodeTable | None = None,
        opsets: dict[str, ir.OpSetIR] | None = None,
        allow_edges: bool = False,
        diagnostics: Diagnostics | None = None,
    ):
        self.lib = lib
        self.diag = diagnostics if diagnostics is not None else lib.diag
        self.scope = scope
        self.inputs = inputs
        self.owner = owner
        self.nodes = nodes or NO_NODES
        self.opsets = opsets or {}
        self.allow_edges = allow_edges
        self.values: dict[NodeKey, Value] = {
            (name, ()): TV(ir.Ref(name, shape), shape) for name, shape in inputs
        }
        self.claims: list[ir.Claim] = []
        self.modules: list[ir.Module] = []
        self.edges: list[ir.EdgeIR] = []
        self.used: set[str] = set()
        self.current: PendingNode | None = None  # the node being elaborated
        self.edge_in_current = False

    def finish(self) -> Elaboration:
        return Elaboration(
            tuple(self.claims), tuple(self.modules), tuple(self.edges), frozenset(self.used)
        )

    # ---- nodes ---------------------------------------------------------------------------
    def node(self, pending: PendingNode) -> ir.Node | None:
        """Elaborate one node; later uses see its value by name."""
        self.current, self.edge_in_current = pending, False
        try:
            value = self.eval(pending.expr, pending.env_dict)
        except Abort:
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
                Code.MISPLACED,
                f"`{pending.display}` is a number, not a tensor; nodes hold tensors",
                pending.span,
                help="put numbers in a `param`, or use them inline",
            )
            self.values[pending.key] = POISON
        return None

    def value_of(self, key: NodeKey) -> Value | None:
        return self.values.get(key)

    # ---- expressions ---------------------------------------------------------------------
    def eval(self, expr, env: dict[str, int]) -> Value:
        method = _EVAL.get(type(expr))  # AST classes have no subclasses: one lookup
        if method is not None:
            return method(self, expr, env)
        if isinstance(expr, ast.Generator):
            self._fail(
                Code.MISPLACED,
                "a generator can only be the argument of sum, mean or concat",
                expr.span,
            )
        self._fail(Code.MISPLACED, "unsupported expression", expr.span)

    def _fail(self, code: str, message: str, span: Span, **details):
        self.diag.error(code, message, span, **details)
        raise Abort

    def _number(self, expr: ast.Number, env) -> Value:
        v = expr.value
        return SV(Dim.const(v) if isinstance(v, int) else float(v))

    def _literal(self, expr: ast.Bool | ast.String, env) -> Value:
        return SV(expr.value)

    def _name(self, expr: ast.Name, env) -> Value:
        name = expr.id
        if name in env:
            return SV(Dim.const(env[name]))
        if (name, ()) in self.values:
            return self.values[(name, ())]
        families = self.nodes.families
        if name in families:
            keys = sorted(families[name])
            if keys == [()]:
                return self.values.get((name, ()), POISON)
            items = [self.values.get((name, k), POISON) for k in keys]
            if any(isinstance(i, Poison) for i in items):
                return POISON
            return LV(tuple(items))
        if name in self.scope:
            return self.scope[name]
        elsewhere = self.lib.out_of_scope(name)
        if elsewhere is not None:
            self._fail(
                Code.UNKNOWN_NAME,
                f"`{name}` is not in scope here",
                expr.span,
                label="not visible in this op",
                help=elsewhere,
            )
        known = [*self.scope, *env, *families, *(n for n, _ in self.inputs)]
        hint = did_you_mean(name, known)
        suffix = f"; {hint}" if hint else ""  # in the message, so one-line formats show it
        self._fail(
            Code.UNKNOWN_NAME, f"unknown name `{name}`{suffix}", expr.span, label="not defined"
        )

    def const_index(self, expr, env) -> int | None:
        """A constant integer (an index, a loop bound), or None; reports nothing."""
        if isinstance(expr, ast.Number) and isinstance(expr.value, int):
            return expr.value
        if isinstance(expr, ast.Name) and expr.id in env:
            return env[expr.id]
        quiet = Elaborator(self.lib, self.scope, diagnostics=Diagnostics())
        try:
            value = quiet.eval(expr, env)
        except Abort:
            return None
        if isinstance(value, SV) and isinstance(value.value, Dim):
            concrete = self.lib.concrete(value.value)
            if concrete.is_const and concrete.value.denominator == 1:
                return int(concrete.value)
        return None

    def _index(self, expr: ast.Index, env) -> Value:
        indices = [self.const_index(i, env) for i in expr.indices]
        if None in indices:
            self._fail(Code.NOT_CONSTANT, "an index must be a constant integer", expr.span)
        if isinstance(expr.value, ast.Name):
            key = (expr.value.id, tuple(indices))
            if key in self.values:
                return self.values[key]
            family = self.nodes.families.get(expr.value.id, ((),))
            if () not in family and key not in self.nodes.keys:
                defined = ", ".join(indexed_display(expr.value.id, k) for k in sorted(family))
                self._fail(
                    Code.UNKNOWN_NAME,
                    f"`{indexed_display(*key)}` is not defined",
                    expr.span,
                    notes=(f"defined are: {defined}",),
                )
        base = self.eval(expr.value, env)
        if isinstance(base, Poison):
            return POISON
        if isinstance(base, LV):
            if len(indices) != 1 or not 0 <= indices[0] < len(base.items):
                self._fail(
                    Code.OUT_OF_RANGE,
                    f"index {indices} is out of range for a list of {len(base.items)}",
                    expr.span,
                )
            return base.items[indices[0]]
        self._fail(
            Code.MISPLACED, "only lists (e.g. the result of split) can be indexed", expr.span
        )

    def _unary(self, expr: ast.Unary, env) -> Value:
        value = self.eval(expr.operand, env)
        if isinstance(value, Poison):
            return POISON
        if expr.op == "-":
            if isinstance(value, SV) and isinstance(value.value, Dim | float):
                return SV(-value.value)
            if isinstance(value, TV):
                return TV(ir.Neg(value.expr, value.shape), value.shape)
        self._fail(Code.MISPLACED, f"`{expr.op}` does not apply here", expr.span)

    def _binary(self, expr: ast.Binary, env) -> Value:
        left, right = self.eval(expr.left, env), self.eval(expr.right, env)
        if isinstance(left, Poison) or isinstance(right, Poison):
            return POISON
        if isinstance(left, SV) and isinstance(right, SV):
            return self._scalar_binary(expr, left.value, right.value)
        if expr.op not in ("+", "-", "*", "/"):
            self._fail(
                Code.MISPLACED,
                f"`{expr.op}` does not apply to tensors",
                expr.span,
                help="tensors combine with + - * /",
            )
        if isinstance(left, LV) or isinstance(right, LV):
            self._fail(
                Code.MISPLACED,
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
                self._fail(Code.MISPLACED, "tensors combine with constant numbers only", expr.span)
            if expr.op in ("+", "-") and scalar is right and _is_zero(scalar.value):
                return left  # `U + sum(<empty>)`, the first node of a HOGA chain
            shape = tensor.shape
        return TV(ir.BinOp(expr.op, _operand(left), _operand(right), shape), shape)

    def _scalar_binary(self, expr: ast.Binary, a, b) -> SV:
        if expr.op in ("and", "or") or expr.op in COMPARISONS:
            self._fail(Code.MISPLACED, f"`{expr.op}` is allowed only in `require`", expr.span)
        if isinstance(a, Dim) and isinstance(b, Dim):
            # a parameter that is 0 divides by zero too (`C // K` with K = 0)
            if expr.op in ("/", "//", "%") and self.lib.concrete(b).is_int(0):
                self._fail(Code.SIZE_ARITHMETIC, "division by zero", expr.span)
            if expr.op == "**":
                if not (b.is_const and b.value.denominator == 1 and 0 <= b.value <= 64):
                    self._fail(
                        Code.SIZE_ARITHMETIC,
                        "exponents of dims are small non-negative integers",
                        expr.span,
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
                    Code.SIZE_ARITHMETIC,
                    expr.span,
                    f"`/` on sizes must divide exactly: {a} / {b}",
                )
            return SV(result)
        if isinstance(a, Dim) and a.is_const:
            a = float(a.value)
        if isinstance(b, Dim) and b.is_const:
            b = float(b.value)
        if isinstance(a, float) and isinstance(b, float):
            try:
                return SV(float(arith(expr.op, a, b)))
            except (ZeroDivisionError, OverflowError, ValueError):
                self._fail(Code.SIZE_ARITHMETIC, "arithmetic error in a constant", expr.span)
        self._fail(Code.NOT_A_SIZE, f"`{expr.op}` needs numbers on both sides", expr.span)

    def _broadcast(self, a: ir.Shape, b: ir.Shape, expr: ast.Binary) -> ir.Shape:
        if len(a) != len(b):
            self._fail(
                Code.BROADCAST,
                f"cannot broadcast {shape_text(a)} with {shape_text(b)}: ranks differ",
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
                    Code.BROADCAST,
                    f"cannot broadcast {shape_text(a)} with {shape_text(b)}",
                    expr.span,
                    labels=(
                        Label(expr.left.span, f"this has {shape_text(a)}"),
                        Label(expr.right.span, f"this has {shape_text(b)}"),
                    ),
                    notes=(f"axis {axis}: {x} and {y} differ and neither is 1",),
                )
            else:
                # as torch broadcasts at each point: equal, or one of them 1 there
                self._require(
                    x,
                    "~",
                    y,
                    Code.BROADCAST,
                    expr.span,
                    f"broadcasting {shape_text(a)} with {shape_text(b)} needs {x} == {y}",
                )
                out.append(Dim.maximum(x, y))
        return tuple(out)

    def _require(
        self, lhs: Dim, op: str, rhs: Dim, code: str, span: Span, reason: str, candidate=None
    ) -> None:
        self.claims.append(ir.Claim(Obligation(lhs, op, rhs, reason), code, span, candidate))

    def match_shape(
        self, actual, declared, span, code, what, note=None, *, diagnostics=None, candidate=None
    ) -> None:
        """`actual` must equal `declared`; decided now when constant, else a claim.
        An op set passes its own `diagnostics` and the `candidate` (set, label), so that it
        can report a signature that no candidate meets once (resolve.py `_opset`). `note`
        may be a function that makes it: only a mismatch needs its text."""
        if actual == declared:  # nearly always: no message to write
            return
        diag = diagnostics if diagnostics is not None else self.diag
        message = f"{what} has shape {shape_text(actual)}, expected {shape_text(declared)}"
        if callable(note):
            note = note()
        if len(actual) != len(declared):
            diag.error(code, message, span, notes=(note,) if note else ())
            return
        for axis, (x, y) in enumerate(zip(actual, declared, strict=True)):
            if x == y:
                continue
            if x.is_const and y.is_const:
                diag.error(
                    code,
                    message,
                    span,
                    label=f"axis {axis} is {x}, expected {y}",
                    notes=(note,) if note else (),
                )
                return
            self._require(x, "==", y, code, span, message, candidate)

    # ---- calls ---------------------------------------------------------------------------
    def _call_expr(self, expr: ast.Call, env) -> Value:
        name = expr.func.id
        if name in DIM_FUNCTIONS:
            return self._dim_function(expr, env)
        expr = _positional_string(expr)
        args: list[Value] = []
        for arg in expr.args:
            if isinstance(arg, ast.Generator):
                if name not in LIST_REDUCERS:
                    self._fail(Code.MISPLACED, f"`{name}` does not take a generator", arg.span)
                items = [
                    self.eval(arg.element, {**env, arg.var: i}) for i in self.range(arg.range, env)
                ]
                args.append(LV(tuple(items)))
            else:
                args.append(self.eval(arg, env))
        if any(isinstance(a, Poison) for a in args):
            return POISON
        if any(isinstance(a, LV) for a in args):
            if name not in LIST_REDUCERS:
                self._fail(Code.MISPLACED, f"`{name}` does not take a list", expr.span)
            flat = []
            for a in args:
                flat.extend(a.items if isinstance(a, LV) else [a])
            if any(isinstance(a, Poison) for a in flat):
                return POISON
            if not flat:
                if name == "sum":
                    return SV(Dim.const(0))
                self._fail(Code.WRONG_ARITY, f"`{name}` of an empty list", expr.span)
            args = flat
        if name in self.opsets:
            return self._edge(expr, args)
        if name in self.nodes.shared:
            return self._shared_call(expr, args, env)
        return self.call(expr.func, args, expr.kwargs, expr.span, env)

    def range(self, rng: ast.Range, env) -> range:
        """The values of `start..stop`; both bounds must be constant integers."""
        bounds = []
        for expr in (rng.start, rng.stop):
            try:
                value = self.eval(expr, env)
            except Abort:
                return range(0)
            if isinstance(value, Poison):
                return range(0)
            if isinstance(value, SV) and isinstance(value.value, Dim):
                value = SV(self.lib.concrete(value.value))
            if not (
                isinstance(value, SV)
                and isinstance(value.value, Dim)
                and value.value.is_const
                and value.value.value.denominator == 1
            ):
                shown = value.value if isinstance(value, SV) else "a tensor"
                self.diag.error(
                    Code.NOT_CONSTANT,
                    "loop bounds must be constant integers",
                    expr.span,
                    notes=(f"this evaluates to `{shown}`",),
                )
                return range(0)
            bounds.append(int(value.value.value))
        if bounds[1] - bounds[0] > MAX_UNROLL:
            self.diag.error(
                Code.OUT_OF_RANGE,
                f"this loop would unroll {bounds[1] - bounds[0]:,} times",
                rng.span,
                help=f"a block unrolls at most {MAX_UNROLL} nodes",
            )
            return range(0)
        return range(bounds[0], bounds[1])

    def _dim_function(self, expr: ast.Call, env) -> SV:
        if expr.func.id == "ceil":
            arg = expr.args[0] if len(expr.args) == 1 else None
            if not (isinstance(arg, ast.Binary) and arg.op == "/"):
                self._fail(
                    Code.WRONG_ARITY, "`ceil` takes one division, e.g. ceil(H / k)", expr.span
                )
            expr = ast.Call(expr.func, (arg.left, arg.right), (), span=expr.span)
        values = [self.eval(a, env) for a in expr.args]
        if any(isinstance(v, Poison) for v in values):
            raise Abort
        if not values or not all(isinstance(v, SV) and isinstance(v.value, Dim) for v in values):
            self._fail(Code.NOT_A_SIZE, f"`{expr.func.id}` takes integer dims", expr.span)
        dims = [v.value for v in values]
        if expr.func.id == "ceil":
            if dims[1].is_int(0):
                self._fail(Code.SIZE_ARITHMETIC, "division by zero", expr.span)
            return SV(dims[0].ceildiv(dims[1]))
        return SV(Dim.maximum(*dims) if expr.func.id == "max" else Dim.minimum(*dims))

    def _edge(self, expr: ast.Call, args: list[Value]) -> Value:
        opset = self.opsets[expr.func.id]
        self.used.add(opset.name)
        if not self.allow_edges:
            self._fail(
                Code.MISPLACED,
                f"op set `{opset.name}` can only be searched in the block",
                expr.span,
            )
        current = self.current
        if current is None:
            self._fail(
                Code.MISPLACED,
                "a searched edge must be assigned to a node, which names it",
                expr.span,
                help=f"write e.g. `s = {opset.name}(...)` and use `s`",
            )
        if self.edge_in_current:
            self._fail(
                Code.MISPLACED,
                "an assignment may hold only one searched edge",
                expr.span,
                help="give each searched edge its own node: the node names the edge",
            )
        if len(args) != 1 or expr.kwargs or not isinstance(args[0], TV):
            self._fail(Code.WRONG_ARITY, f"op set `{opset.name}` takes one tensor", expr.span)
        self.edge_in_current = True
        arg = args[0]
        mapping = bind_symbols(opset.input, arg.shape)
        self.match_shape(
            arg.shape,
            tuple(d.subs(mapping) for d in opset.input),
            expr.args[0].span,
            Code.SHAPE_MISMATCH,
            f"the input of searched edge `{current.display}`",
            note=lambda: f"op set `{opset.name}` takes {shape_text(opset.input)}",
        )
        # what each candidate needs, on this edge's sizes (HOGA's groups have C / K
        # channels); on the set's own symbols the claims are the same for every edge
        identity = all(Dim.sym(k) == v for k, v in mapping.items())
        for cand in opset.candidates:
            if identity:
                self.claims.extend(cand.claims)
                continue
            where = f"candidate `{cand.label}` on edge `{current.display}`"
            self.claims.extend(c.at(mapping, where, cand.span) for c in cand.claims)
        result = tuple(d.subs(mapping) for d in opset.result)
        edge = ir.EdgeIR(current.display, current.py, opset.name, arg.shape, current.span)
        self.edges.append(edge)
        return TV(ir.EdgeCall(edge.py, arg.expr, result), result)

    def _shared_call(self, expr: ast.Call, args, env) -> Value:
        stmt, attr = self.nodes.shared[expr.func.id]
        if expr.kwargs:
            self._fail(
                Code.BAD_KEYWORD,
                "a shared instance takes its parameters where it is declared",
                expr.kwargs[0].span,
            )
        return self.call(stmt.op, args, stmt.kwargs, expr.span, env, module_hint=attr, shared=True)

    def call(
        self, func: ast.Name, args, kwargs, span, env, module_hint=None, shared=False
    ) -> Value:
        name = func.id
        tensors = [a for a in args if isinstance(a, TV)]
        if len(tensors) != len(args):
            self._fail(
                Code.MISPLACED,
                f"`{name}` takes tensors as positional arguments",
                span,
                help="parameters are passed by keyword, e.g. conv2d(x, out=1, k=3)",
            )
        if name in PRIMITIVES:
            return self._primitive(
                PRIMITIVES[name], func, tensors, kwargs, span, env, module_hint, shared
            )
        if self.lib.op_decl(name) is not None:
            return self._composite(name, func, tensors, kwargs, span, env, module_hint, shared)
        self._unknown(func, "op")

    def _unknown(self, func: ast.Name, kind: str):
        known = [*PRIMITIVES, *self.opsets, *self.nodes.shared, *DIM_FUNCTIONS]
        meant = unknown_op(self.diag, func, kind, [*known, *self.lib.op_names()])
        if meant is not None:  # the user meant that one: no "never used" warning for it too
            self.used.add(meant)
        raise Abort

    def _kwargs(
        self, name, specs: dict[str, str], kwargs, env, required: set[str], span: Span
    ) -> dict:
        values: dict = {}
        for kw in kwargs:
            if kw.name not in specs:
                self._fail(
                    Code.BAD_KEYWORD,
                    f"`{name}` has no parameter `{kw.name}`",
                    kw.span,
                    notes=("its parameters are " + (", ".join(specs) or "none"),),
                    help=did_you_mean(kw.name, specs),
                )
            if kw.name in values:
                self._fail(Code.BAD_KEYWORD, f"parameter `{kw.name}` is given twice", kw.span)
            value = self.eval(kw.value, env)
            if isinstance(value, Poison):
                raise Abort
            if not isinstance(value, SV):
                self._fail(
                    Code.WRONG_VALUE, f"parameter `{kw.name}` takes a value, not a tensor", kw.span
                )
            values[kw.name] = self._coerce(name, kw, specs[kw.name], value.value)
        missing = sorted(r for r in required if r not in values)
        if missing:
            self._fail(
                Code.BAD_KEYWORD,
                f"`{name}` needs parameter " + ", ".join(f"`{m}`" for m in missing),
                span,  # the call that leaves them out
            )
        return values

    def _coerce(self, name, kw, type_: str, value):
        wrong = None
        if isinstance(value, ir.ParamRef):
            if value.type == type_ or (type_ == "float" and value.type == "int"):
                return value
            self._fail(
                Code.WRONG_VALUE,
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
        elif type_ == "axes":  # axis letters or numbers as a string, or one axis number
            if isinstance(value, str):
                return value
            if isinstance(value, Dim) and value.is_const and value.value.denominator == 1:
                return str(int(value.value))
            wrong = 'axes ("hw", "-1") or an axis number'
        self._fail(
            Code.WRONG_VALUE,
            f"parameter `{kw.name}` of `{name}` takes {wrong}, got `{value_text(value)}`",
            kw.value.span,
        )

    def _primitive(self, prim: Primitive, func, tensors, kwargs, span, env, hint, shared):
        if prim.arity is not None and len(tensors) != prim.arity:
            self._fail(
                Code.WRONG_ARITY,
                f"`{prim.name}` takes {prim.arity} tensor input{'s' * (prim.arity != 1)}, "
                f"got {len(tensors)}",
                span,
                notes=(f"signature: {prim.name}: {prim.signature}",),
            )
        if prim.arity is None and not tensors:
            self._fail(Code.WRONG_ARITY, f"`{prim.name}` needs at least one tensor", span)
        specs, required, defaults = _signature(prim)
        if prim.axis_sizes:  # the sizes of a pattern's axes, checked by the shape rule
            specs = {**specs, **{kw.name: "dim" for kw in kwargs if kw.name not in specs}}
        given = self._kwargs(prim.name, specs, kwargs, env, required, span)
        params = {**defaults, **given}
        for p in prim.params:
            if p.choices and params[p.name] not in p.choices:
                kw = next(k for k in kwargs if k.name == p.name)
                self._fail(
                    Code.WRONG_VALUE,
                    f"`{p.name}` must be one of " + ", ".join(f'"{c}"' for c in p.choices),
                    kw.value.span,
                )
        ctx = ShapeContext(parts=self._list_length(prim, params, span) if prim.returns_list else 0)
        try:
            shape = prim.infer(ctx, [t.shape for t in tensors], params)
        except ShapeError as exc:
            code = (
                Code(exc.code)
                if exc.code
                else (Code.CONCAT if prim.name == "concat" else Code.SHAPE_MISMATCH)
            )
            self._fail(
                code,
                f"`{prim.name}`: {exc.message}",
                span,
                help=exc.help,
                notes=(f"signature: {prim.name}: {prim.signature}",),
            )
        code = Code.CONCAT if prim.name == "concat" else Code.PRECONDITION
        self.claims.extend(ir.Claim(ob, code, span) for ob in ctx.obligations)
        kept = tuple((k, v) for k, v in params.items() if v is not None)
        module = None
        if prim.stateful:
            module = hint if shared else self._module_name(prim.name)
            if not shared or module not in {m.attr for m in self.modules}:
                self.modules.append(
                    ir.Module(module, "prim", prim.name, kept, tuple(t.shape for t in tensors))
                )
        if prim.returns_list:  # `shape` holds the shape of each part
            base = ir.PrimCall(prim.name, tuple(t.expr for t in tensors), kept, module, None)
            return LV(tuple(TV(ir.Item(base, i, part), part) for i, part in enumerate(shape)))
        return TV(
            ir.PrimCall(prim.name, tuple(t.expr for t in tensors), kept, module, shape), shape
        )

    def _list_length(self, prim: Primitive, params, span) -> int:
        """How many tensors a list op makes: fixed when the space is resolved."""
        parts = self.lib.concrete(prim.count(params))
        if not (parts.is_const and parts.value.denominator == 1 and parts.value >= 1):
            self._fail(
                Code.NOT_CONSTANT, f"{prim.name} needs a constant positive number of parts", span
            )
        if parts.value > MAX_UNROLL:
            self._fail(Code.OUT_OF_RANGE, f"{prim.name} into at most {MAX_UNROLL} parts", span)
        return int(parts.value)

    def _composite(self, name, func, tensors, kwargs, span, env, hint, shared):
        self.used.add(name)
        op = self.lib.op_ir(name)
        if op is None:  # its body was wrong, and said so
            raise Abort
        declared = op.graph.inputs
        if len(tensors) != len(declared):
            self._fail(
                Code.WRONG_ARITY,
                f"op `{name}` takes {len(declared)} tensor input(s), got {len(tensors)}",
                span,
                labels=(Label(op.span, "declared here"),),
            )
        specs = {p.name: p.type for p in op.params}
        required = {p.name for p in op.params if p.default is None}
        given = self._kwargs(name, specs, kwargs, env, required, span)
        mapping: dict[str, Dim] = {}
        for (pname, pshape), arg in zip(declared, tensors, strict=True):
            mapping.update(bind_symbols(pshape, arg.shape, mapping))
            expected = tuple(d.subs(mapping) for d in pshape)
            self.match_shape(
                arg.shape, expected, span, Code.SHAPE_MISMATCH, f"argument `{pname}` of op `{name}`"
            )
        mapping.update(op.param_dims(given))
        self.claims.extend(c.at(mapping, f"in op `{name}`", span) for c in op.claims)
        result = tuple(d.subs(mapping) for d in op.result)
        params = tuple((p.name, given.get(p.name, p.default)) for p in op.params)
        module = hint if shared else self._module_name(name)
        if not shared or module not in {m.attr for m in self.modules}:
            self.modules.append(
                ir.Module(module, "op", name, params, tuple(t.shape for t in tensors))
            )
        return TV(ir.OpCall(name, tuple(t.expr for t in tensors), module, result), result)

    def _module_name(self, base: str) -> str:
        owner = self.current.py if self.current is not None else ""
        stem = f"{owner}_{base}" if owner else base
        taken = {m.attr for m in self.modules} | {a for _, a in self.nodes.shared.values()}
        if stem not in taken:
            return stem
        i = 1
        while f"{stem}_{i}" in taken:
            i += 1
        return f"{stem}_{i}"


_EVAL = {
    ast.Number: Elaborator._number,
    ast.Bool: Elaborator._literal,
    ast.String: Elaborator._literal,
    ast.Name: Elaborator._name,
    ast.Index: Elaborator._index,
    ast.Unary: Elaborator._unary,
    ast.Binary: Elaborator._binary,
    ast.Call: Elaborator._call_expr,
}


def _positional_string(expr: ast.Call) -> ast.Call:
    """`permute(x, "b c h w -> b h c w")`: a string after the tensors of a primitive that
    takes one gives that parameter, as the keyword would."""
    prim = PRIMITIVES.get(expr.func.id)
    if prim is None or prim.positional is None or not expr.args:
        return expr
    last = expr.args[-1]
    if not isinstance(last, ast.String):
        return expr
    keyword = ast.Keyword(prim.positional, last, span=last.span)
    return ast.Call(expr.func, expr.args[:-1], (keyword, *expr.kwargs), span=expr.span)


_SIGNATURES: dict[str, tuple[dict[str, str], frozenset[str], dict]] = {}


def _signature(prim: Primitive) -> tuple[dict[str, str], frozenset[str], dict]:
    """A primitive's parameter types, required parameters and defaults, made once: every
    call of it needs them (callers copy before changing them)."""
    found = _SIGNATURES.get(prim.name)
    if found is None or found[3] is not prim:
        specs = {p.name: p.type for p in prim.params}
        required = frozenset(p.name for p in prim.params if p.default is None and not p.optional)
        defaults = {p.name: p.default for p in prim.params}
        found = _SIGNATURES[prim.name] = (specs, required, defaults, prim)
    return found[:3]


def arith(op: str, a, b):
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if op == "/":
        return a / b
    if op == "//":
        return a // b
    if op == "%":
        return a % b
    return a**b


def bind_symbols(declared: ir.Shape, actual: ir.Shape, known=None) -> dict[str, Dim]:
    """Bind the bare symbols of a declared shape to the actual dims at a call site."""
    mapping: dict[str, Dim] = dict(known or {})
    for d, a in zip(declared, actual, strict=False):
        symbol = d.symbol
        if symbol is not None and symbol not in mapping:
            mapping[symbol] = a
    return mapping


def value_text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    return str(value)


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
