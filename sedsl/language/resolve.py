"""AST -> IR: merge imports, resolve names and parameters, build each graph.

The resolver owns the files and the top-level declarations; graphs (the block, composite
op bodies) are built by sedsl/language/dag.py and their expressions elaborated by
sedsl/language/elaborate.py, which reach back here only through the `Library` protocol.

Resolution never stops at the first problem: each one becomes a diagnostic and the
offending node turns into a poison value that silences the errors it would cause
downstream. Conditions that depend on sizes (`C // reduction >= 1`, a broadcast of H
against W) come back from each graph as claims, for the checker to prove or evaluate.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from sedsl.diagnostics.codes import Code
from sedsl.diagnostics.diagnostic import Diagnostics, Label
from sedsl.diagnostics.span import Span
from sedsl.language import ast, ir
from sedsl.language.dag import GraphBuilder
from sedsl.language.elaborate import Elaborator, arith
from sedsl.language.names import (
    check_python_name,
    class_name,
    did_you_mean,
    indexed_display,
    python_name_problem,
)
from sedsl.language.parser import parse_file
from sedsl.language.values import COMPARISONS, SV, TV, Abort, Poison, Value, shape_text
from sedsl.ops.library import PRIMITIVES
from sedsl.resources import LIBRARY_SCHEME, library_names, library_path
from sedsl.shapes.dims import Dim

SCALAR_TYPES = ("int", "float", "bool", "str")
# where an extern op's code lives: "package.module:attribute", dotted names on both sides
EXTERN_TARGET = re.compile(r"[^\W\d]\w*(\.[^\W\d]\w*)*:[^\W\d]\w*(\.[^\W\d]\w*)*")


# ---- the resolver ------------------------------------------------------------------


@dataclass
class _Decls:
    params: dict[str, ast.Param] = field(default_factory=dict)
    ops: dict[str, ast.OpDef] = field(default_factory=dict)
    opsets: dict[str, ast.OpSet] = field(default_factory=dict)
    dims: dict[str, ast.DimDecl] = field(default_factory=dict)  # insertion-point dims
    spans: dict[str, Span] = field(default_factory=dict)  # any top-level name


def resolve_file(
    path: Path,
    diagnostics: Diagnostics,
    overrides: dict[str, int | float] | None = None,
    display: str | None = None,
    read: list[Path] | None = None,
) -> ir.SpaceIR | None:
    """Parse `path` and its imports and resolve them; None when nothing could be parsed.
    Every file read is appended to `read` (for the check cache)."""
    resolver = Resolver(diagnostics, overrides or {})
    try:
        return resolver.run(path, display)
    finally:
        if read is not None:
            read.extend(resolver.read)


def _display_path(path: Path) -> str:
    """A shipped library as diagnostics name it: relative to the working folder when inside it."""
    try:
        return str(path.relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


class Resolver:
    def __init__(self, diagnostics: Diagnostics, overrides: dict[str, int | float]):
        self.diag = diagnostics
        self.overrides = overrides
        self.decls = _Decls()
        self.hasher = hashlib.sha256()
        self.param_values: dict[str, int | float | bool | str] = {}
        self.op_cache: dict[str, ir.OpIR | None] = {}  # None: being built, or failed
        self.used: set[str] = set()  # ops and op sets something uses
        # an op or op set named like a primitive (E011) is dropped, so what it uses is unknown
        self.refused_primitive_name = False
        self.loaded: set[Path] = set()  # imported files, each merged once
        self.read: list[Path] = []  # every file read, for the check cache

    # ---- files and imports ----------------------------------------------------------
    def run(self, path: Path, display: str | None) -> ir.SpaceIR | None:
        main = self._load(path, display or str(path), stack=())
        if main is None:
            return None
        self._check_params()
        self._check_names()
        opsets = tuple(
            s for s in (self._opset(o) for o in self.decls.opsets.values()) if s is not None
        )
        blocks = [d for d in main.decls if isinstance(d, ast.Block)]
        for extra in blocks[1:]:
            self.diag.error(
                Code.DUPLICATE,
                f"a space has one block; `{extra.name}` is a second one",
                extra.span,
                labels=(Label(blocks[0].span, "the first block"),),
            )
        block, block_claims, dims = self._block(blocks[0], opsets) if blocks else (None, (), ())
        genotypes = self._genotypes(main, block, opsets)
        point_dims = self._point_dims(dims)
        points = self._points(main, dims, point_dims)
        requirements = self._requirements(main, dims)
        recipe = self._recipe(main)
        if block is not None or not blocks:  # a block that failed to build uses nothing
            self._warn_unused_declarations(main)
        space = next((d for d in main.decls if isinstance(d, ast.SpaceDecl)), None)
        name = space.name if space else Path(path).stem
        if space is None:
            self.diag.error(
                Code.MISPLACED,
                "missing `space NAME` declaration",
                Span.point(main.path),
                help='start the file with `space my_space "what it searches"`',
            )
        elif problem := python_name_problem(space.name):
            self.diag.error(
                Code.NOT_PYTHON_NAME,
                f"space name `{space.name}` cannot be a Python package: {problem}",
                space.span,
            )
        ops = tuple(o for n, o in self.op_cache.items() if o is not None and n in self.used)
        # an op set no edge searches is still checked, on its own symbols
        searched = {e.opset for e in block.edges} if block is not None else set()
        unsearched = tuple(
            claim
            for s in opsets
            if s.name not in searched
            for cand in s.candidates
            for claim in cand.claims
        )
        return ir.SpaceIR(
            name=name,
            doc=space.doc if space else None,
            source=main.path,
            source_sha256=self.hasher.hexdigest(),
            params=tuple(
                ir.ParamIR(p.name, p.type.id, self.param_values[p.name], p.doc, p.span)
                for p in self.decls.params.values()
                if p.name in self.param_values
            ),
            ops=ops,
            opsets=opsets,
            block=block,
            genotypes=genotypes,
            point_sets=points,
            requirements=requirements,
            recipe=recipe,
            claims=unsearched + block_claims,
            point_dims=point_dims,
        )

    def _load(self, path: Path, display: str, stack: tuple[Path, ...]) -> ast.Module | None:
        self.read.append(path)
        module = self.parse(path, display)
        if not module.decls and self.diag.has_errors:
            return None if not stack else module
        self.hasher.update(module.source.encode("utf-8"))
        for decl in module.decls:
            if isinstance(decl, ast.Import):
                self._import(decl, path, stack + (path.resolve(),))
            elif isinstance(decl, ast.Param | ast.OpDef | ast.OpSet) or (
                isinstance(decl, ast.DimDecl) and not stack  # the main file's contract
            ):
                self._declare(decl)
            elif stack and not isinstance(decl, ast.SpaceDecl):
                self.diag.warning(
                    Code.IGNORED_IN_IMPORT,
                    "an imported file contributes only params, ops and op sets; "
                    "this declaration is ignored",
                    decl.span,
                )
        return module

    def parse(self, path: Path, display: str) -> ast.Module:
        """One file's AST, read from disk; the language server reads an editor's unsaved
        text instead (sedsl/lsp/analysis.py)."""
        return parse_file(path, self.diag, display)

    def _import(self, decl: ast.Import, importer: Path, stack: tuple[Path, ...]) -> None:
        shipped = library_path(decl.path.value)
        if shipped is not None and not shipped.is_file():
            self.diag.error(
                Code.IMPORT_NOT_FOUND,
                f'sedsl ships no library "{decl.path.value}"',
                decl.path.span,
                help="shipped libraries: "
                + ", ".join(f'"{LIBRARY_SCHEME}{n}"' for n in library_names()),
            )
            return
        target = (shipped or importer.parent / decl.path.value).resolve()
        if target in stack:
            chain = " -> ".join(p.name for p in (*stack, target))
            self.diag.error(
                Code.IMPORT_CYCLE,
                f"import cycle: {chain}",
                decl.path.span,
                help="move the shared declarations into a library that imports neither",
            )
            return
        if not target.is_file():
            self.diag.error(
                Code.IMPORT_NOT_FOUND,
                f'cannot find imported file "{decl.path.value}"',
                decl.path.span,
                notes=(f"looked for {target}",),
                help="import paths are relative to the importing file; "
                f'shipped libraries are imported as "{LIBRARY_SCHEME}NAME"',
            )
            return
        if target in self.loaded:
            return
        self.loaded.add(target)
        display = (
            _display_path(target)
            if shipped is not None
            else str(Path(decl.span.file).parent / decl.path.value)
        )
        self._load(target, display, stack)

    def _declare(self, decl: ast.Param | ast.DimDecl | ast.OpDef | ast.OpSet) -> None:
        name = decl.name
        if name in self.decls.spans:
            first = self.decls.spans[name]
            self.diag.error(
                Code.DUPLICATE,
                f"`{name}` is defined twice",
                decl.span,
                label="redefined here",
                labels=(Label(first, "first defined here"),),
            )
            return
        if name in PRIMITIVES and not isinstance(decl, ast.Param | ast.DimDecl):
            self.diag.error(
                Code.DUPLICATE,
                f"`{name}` is a primitive op and cannot be redefined",
                decl.span,
                help=f"choose another name, e.g. `my_{name}`",
            )
            self.refused_primitive_name = True
            return
        self.decls.spans[name] = decl.span
        table = {
            ast.Param: self.decls.params,
            ast.OpDef: self.decls.ops,
            ast.OpSet: self.decls.opsets,
            ast.DimDecl: self.decls.dims,
        }
        table[type(decl)][name] = decl

    # ---- parameters -------------------------------------------------------------------
    def _check_params(self) -> None:
        for param in self.decls.params.values():
            if param.type.id not in SCALAR_TYPES:
                self.diag.error(
                    Code.WRONG_VALUE,
                    f"unknown parameter type `{param.type.id}`",
                    param.type.span,
                    help="parameters are int, float, bool or str",
                )
                continue
            value = self._constant(param.default, {})
            if value is None:
                continue
            if not _fits(value, param.type.id):
                self.diag.error(
                    Code.WRONG_VALUE,
                    f"parameter `{param.name}` is declared {param.type.id} "
                    f"but its default is {_type_of(value)} `{value}`",
                    param.default.span,
                    labels=(Label(param.type.span, f"declared {param.type.id} here"),),
                )
                continue
            if param.name in self.overrides:
                value = self.overrides[param.name]
                if not _fits(value, param.type.id):
                    self.diag.error(
                        Code.WRONG_VALUE,
                        f"override {param.name}={value} is not a {param.type.id}",
                        param.span,
                    )
                    continue
            self.param_values[param.name] = float(value) if param.type.id == "float" else value
        for name in self.overrides:
            if name not in self.decls.params:
                self.diag.error(
                    Code.UNKNOWN_NAME,
                    f"cannot set `{name}`: the space has no such parameter",
                    Span.point("<command line>"),
                    help=did_you_mean(name, self.decls.params),
                )

    def _constant(self, expr: ast.Expr, env: dict[str, Dim | float]):
        """Evaluate a constant expression (param defaults, recipe values, points)."""
        if isinstance(expr, ast.Number | ast.String | ast.Bool):
            return expr.value
        if isinstance(expr, ast.Unary) and expr.op == "-":
            inner = self._constant(expr.operand, env)
            if isinstance(inner, int | float) and not isinstance(inner, bool):
                return -inner
        if isinstance(expr, ast.Name) and expr.id in self.param_values:
            return self.param_values[expr.id]
        if isinstance(expr, ast.Binary) and expr.op in ("+", "-", "*", "/", "//", "**"):
            left, right = self._constant(expr.left, env), self._constant(expr.right, env)
            if all(isinstance(v, int | float) and not isinstance(v, bool) for v in (left, right)):
                try:
                    return arith(expr.op, left, right)
                except (ZeroDivisionError, OverflowError, ValueError):
                    pass
        self.diag.error(Code.NOT_CONSTANT, "expected a constant value", expr.span)
        return None

    # ---- names --------------------------------------------------------------------------
    def _check_names(self) -> None:
        for kind, table in (
            ("parameter", self.decls.params),
            ("op", self.decls.ops),
            ("op set", self.decls.opsets),
            ("dimension", self.decls.dims),
        ):
            for name, decl in table.items():
                check_python_name(self.diag, name, decl.span, kind)

    def _warn_unused_declarations(self, main: ast.Module) -> None:
        if not any(isinstance(d, ast.Block) for d in main.decls):
            # a library: check every op body, since no block will reach them
            for decl in main.decls:
                if isinstance(decl, ast.OpDef):
                    self.op_ir(decl.name)
            return
        if self.refused_primitive_name:  # W010 on its candidates and itself would be a cascade
            return
        for decl in main.decls:
            if isinstance(decl, ast.OpSet | ast.OpDef) and decl.name not in self.used:
                kind = "op set" if isinstance(decl, ast.OpSet) else "op"
                self.diag.warning(
                    Code.UNUSED_DECLARATION, f"{kind} `{decl.name}` is never used", decl.span
                )

    def concrete(self, value):
        """A dim with the space's int parameters replaced by their values: structure (loop
        bounds, split parts, indices) is fixed when the space is resolved."""
        if not isinstance(value, Dim):
            return value
        ints = {
            k: Dim.const(v)
            for k, v in self.param_values.items()
            if isinstance(v, int) and not isinstance(v, bool)
        }
        return value.subs(ints)

    def op_decl(self, name: str) -> ast.OpDef | None:
        return self.decls.ops.get(name)

    def op_names(self) -> tuple[str, ...]:
        return tuple(self.decls.ops)

    def space_scope(self) -> dict[str, Value]:
        scope: dict[str, Value] = {}
        for name, value in self.param_values.items():
            param = self.decls.params[name]
            if param.type.id == "int":
                scope[name] = SV(Dim.sym(name))
            else:
                scope[name] = SV(value)
        for name in self.decls.dims:  # insertion-point dims: symbols, like the block's C
            scope[name] = SV(Dim.sym(name))
        return scope

    def out_of_scope(self, name: str) -> str | None:
        if name in self.decls.dims:
            return (
                f"`{name}` is a dim of the insertion point, which an op does not see; give the "
                f"op a parameter and pass `{name}` where the op is used (e.g. `squeeze={name}`)"
            )
        return None

    def _binding_scope(self, scope: dict[str, Value]) -> dict[str, Value]:
        """A signature's bare names bind new dims even where a `dim` has the same name."""
        return {k: v for k, v in scope.items() if k not in self.decls.dims}

    # ---- composite ops ----------------------------------------------------------------
    def op_ir(self, name: str) -> ir.OpIR | None:
        if name in self.op_cache:
            return self.op_cache[name]
        self.op_cache[name] = None  # recursion guard: an op that calls itself resolves to None
        decl = self.decls.ops[name]
        tensors = [p for p in decl.params if isinstance(p, ast.TensorParam)]
        scalars = [p for p in decl.params if isinstance(p, ast.ScalarParam)]
        if not tensors:
            self.diag.error(Code.MISPLACED, f"op `{name}` takes no tensor input", decl.span)
            return None
        # an op is a function of its inputs' dims and its parameters: the insertion point's
        # dims are not its own (its generated class could not know them), so they come in as
        # arguments, as tse.space passes `squeeze=Cin // reduction`
        scope = self._binding_scope(self.space_scope())
        dims: list[str] = []
        inputs = []
        for t in tensors:
            check_python_name(self.diag, t.name, t.span, "input")
            shape = self._declared_shape(t.shape, scope, bind=dims)
            if shape is None:
                return None
            inputs.append((t.name, shape))
        params = []
        for s in scalars:
            check_python_name(self.diag, s.name, s.span, "parameter")
            type_ = s.type.id if s.type.id in SCALAR_TYPES else None
            if type_ is None:
                self.diag.error(
                    Code.WRONG_VALUE,
                    f"unknown parameter type `{s.type.id}`",
                    s.type.span,
                    help="op parameters are int, float, bool or str",
                )
                return None
            default = self._constant(s.default, {}) if s.default is not None else None
            if default is not None and not _fits(default, type_):
                self.diag.error(
                    Code.WRONG_VALUE,
                    f"parameter `{s.name}` is declared {type_} but its default is "
                    f"{_type_of(default)} `{default}`",
                    s.default.span,
                )
                return None
            if type_ == "str" and decl.extern is None:  # an extern op may take a mode
                self.diag.error(
                    Code.WRONG_VALUE,
                    "op parameters are int, float or bool",
                    s.type.span,
                    help="pass choices like `over` directly to the primitive",
                )
                return None
            params.append(ir.ScalarParamIR(s.name, type_, default))
            scope[s.name] = (
                SV(Dim.sym(s.name)) if type_ == "int" else SV(ir.ParamRef(s.name, type_))
            )
        for d in dims:
            scope[d] = SV(Dim.sym(d))
        result = self._declared_shape(decl.result, scope, bind=None)
        if decl.extern is not None:
            op = self._extern_op(decl, tuple(dims), tuple(params), tuple(inputs), result, scope)
            self.op_cache[name] = op
            return op
        builder = GraphBuilder(self, scope, tuple(inputs), owner=f"op `{name}`")
        built = builder.build(decl.body, decl.returns, result, f"the result of op `{name}`")
        self.used |= built.used
        graph = built.graph
        if graph is None:
            return None
        op = ir.OpIR(
            name=name,
            py_class=class_name(name),
            doc=decl.doc,
            dims=tuple(dims),
            params=tuple(params),
            graph=graph,
            result=result or _expr_shape(graph.output),
            span=decl.span,
            claims=built.claims,
        )
        self.op_cache[name] = op
        return op

    def _extern_op(self, decl: ast.OpDef, dims, params, inputs, result, scope) -> ir.OpIR | None:
        """A user's own op: its declared result is its shape rule; its target is checked for
        form only, since checking never imports user code (the generated block does)."""
        extern = decl.extern
        target = extern.target.value
        if not EXTERN_TARGET.fullmatch(target):
            self.diag.error(
                Code.WRONG_VALUE,
                f'extern op `{decl.name}` names its code "{target}", which is not '
                '"package.module:attribute"',
                extern.target.span,
                help='e.g. "mypkg.gates:MyGate" for class MyGate in mypkg/gates.py',
            )
            return None
        values = [self._extern_arg(a, scope) for a in extern.args]
        keywords = [(k.name, self._extern_arg(k.value, scope)) for k in extern.kwargs]
        names = [k.name for k in extern.kwargs]
        for k in extern.kwargs:
            if names.count(k.name) > 1:
                self.diag.error(Code.BAD_KEYWORD, f"argument `{k.name}` is given twice", k.span)
                return None
        if result is None or None in values or any(v is None for _, v in keywords):
            return None
        module = ir.Module("op", "extern", decl.name, (), tuple(s for _, s in inputs))
        call = ir.ExternCall("op", tuple(ir.Ref(n, s) for n, s in inputs), result)
        return ir.OpIR(
            name=decl.name,
            py_class=class_name(decl.name),
            doc=decl.doc,
            dims=dims,
            params=params,
            graph=ir.Graph(inputs, (), call, (module,)),
            result=result,
            span=decl.span,
            extern=ir.ExternIR(target, tuple(values), tuple(keywords), extern.span),
        )

    def _extern_arg(self, expr, scope):
        """One argument an extern op's code is built with: a number, a size over the op's
        dims and parameters, a bool or a string."""
        if isinstance(expr, ast.Generator):
            self.diag.error(Code.MISPLACED, "an extern op's arguments are values", expr.span)
            return None
        return self.scalar_expr(expr, scope)

    def _declared_shape(self, ann: ast.ShapeAnn, scope, bind: list[str] | None) -> ir.Shape | None:
        """A shape annotation; with `bind`, bare unknown names become new dim symbols."""
        dims = []
        for expr in ann.dims:
            if isinstance(expr, ast.Name) and expr.id not in scope and bind is not None:
                if expr.id not in bind:
                    bind.append(expr.id)
                dims.append(Dim.sym(expr.id))
                continue
            value = self.scalar_expr(expr, {**scope, **{d: SV(Dim.sym(d)) for d in bind or ()}})
            if not isinstance(value, Dim):
                if value is not None:
                    self.diag.error(
                        Code.NOT_A_SIZE, "a dimension must be an integer expression", expr.span
                    )
                return None
            dims.append(value)
        return tuple(dims)

    def scalar_expr(self, expr: ast.Expr, scope: dict[str, Value]):
        try:
            value = Elaborator(self, scope).eval(expr, {})
        except Abort:
            return None
        if isinstance(value, SV):
            return value.value
        if not isinstance(value, Poison):
            self.diag.error(Code.MISPLACED, "expected a number here, found a tensor", expr.span)
        return None

    # ---- op sets ------------------------------------------------------------------------
    def _opset(self, decl: ast.OpSet) -> ir.OpSetIR | None:
        scope = self.space_scope()
        dims: list[str] = []
        input_shape = self._declared_shape(decl.input.shape, self._binding_scope(scope), bind=dims)
        if input_shape is None:
            return None
        full = {**scope, **{d: SV(Dim.sym(d)) for d in dims}}
        result = self._declared_shape(decl.result, full, bind=None)
        if result is None:
            return None
        candidates, labels, broken, misses = [], {}, [], []
        for cand in decl.candidates:
            label = candidate_label(cand)
            if label in labels:
                self.diag.error(
                    Code.DUPLICATE,
                    f"candidate `{label}` appears twice in op set `{decl.name}`",
                    cand.span,
                    labels=(Label(labels[label], "first here"),),
                )
                continue
            labels[label] = cand.span
            check_python_name(self.diag, label, cand.span, "candidate")
            miss = Diagnostics()  # how this candidate misses the signature, if it does now
            built = self._candidate(decl, cand, label, input_shape, result, full, miss)
            if built is not None:
                candidates.append(built)
                misses.append(miss)
            else:
                broken.append(label)
        if len(candidates) >= 2 and not broken and all(misses):
            self.diag.error(
                Code.SIGNATURE_NO_CANDIDATE,
                f"no candidate of op set `{decl.name}` gives its declared result "
                f"{shape_text(result)}",
                decl.span,
                label="the signature",
                labels=tuple(Label(c.span, f"gives {shape_text(c.result)}") for c in candidates),
                notes=("the candidates are " + ", ".join(f"`{c.label}`" for c in candidates),),
                help="the signature is more likely wrong than every candidate",
            )
        else:
            for miss in misses:
                self.diag.extend(miss)
        return ir.OpSetIR(
            decl.name,
            decl.doc,
            input_shape,
            result,
            tuple(candidates),
            decl.span,
            broken=tuple(broken),
        )

    def _candidate(
        self, opset, cand, label, input_shape, result, scope, miss: Diagnostics
    ) -> ir.CandidateIR | None:
        elab = Elaborator(self, scope, (("x", input_shape),), owner=f"op set `{opset.name}`")
        arg = TV(ir.Ref("x", input_shape), input_shape)
        try:
            value = elab.call(cand.op, [arg], cand.kwargs, cand.span, {}, module_hint=label)
        except Abort:
            value = None
        if not isinstance(value, TV):
            self.used |= elab.finish().used
            return None
        elab.match_shape(
            value.shape,
            result,
            cand.span,
            Code.CANDIDATE_SIGNATURE,
            f"candidate `{label}` of op set `{opset.name}`",
            note=lambda: f"the op set declares {shape_text(input_shape)} -> {shape_text(result)}",
            diagnostics=miss,
            candidate=(opset.name, label),
        )
        done = elab.finish()
        self.used |= done.used
        call = value.expr
        if isinstance(call, ir.PrimCall):
            params = call.params
        else:  # a composite op: its module records the parameters it was given
            params = next(m.params for m in done.modules if m.attr == call.module)
        kind = "prim" if cand.op.id in PRIMITIVES else "op"
        return ir.CandidateIR(
            label, cand.op.id, kind, params, value.shape, cand.span, claims=done.claims
        )

    # ---- the block ----------------------------------------------------------------------
    def _block(
        self, decl: ast.Block, opsets: tuple[ir.OpSetIR, ...]
    ) -> tuple[ir.BlockIR | None, tuple[ir.Claim, ...], tuple[str, ...]]:
        """The block, the claims it needs, and its input's dims (which `check` binds)."""
        check_python_name(self.diag, decl.name, decl.span, "block")
        scope = self.space_scope()
        dims: list[str] = []
        shape = self._declared_shape(decl.input.shape, self._binding_scope(scope), bind=dims)
        if shape is None:
            return None, (), tuple(dims)
        full = {**scope, **{d: SV(Dim.sym(d)) for d in dims}}
        result = self._declared_shape(decl.result, full, bind=None)
        check_python_name(self.diag, decl.input.name, decl.input.span, "input")
        builder = GraphBuilder(
            self,
            full,
            ((decl.input.name, shape),),
            owner=f"block `{decl.name}`",
            allow_edges=True,
            opsets={s.name: s for s in opsets},
        )
        built = builder.build(decl.body, decl.returns, result, "the block's result")
        self.used |= built.used
        if built.graph is None:
            return None, built.claims, tuple(dims)
        block = ir.BlockIR(
            decl.name,
            decl.doc,
            shape,
            result or _expr_shape(built.graph.output),
            built.graph,
            built.edges,
            decl.span,
        )
        return block, built.claims, tuple(dims)

    # ---- genotypes, points, constraints, recipe ------------------------------------
    def _genotypes(self, main, block, opsets) -> tuple[ir.GenotypeIR, ...]:
        result, seen = [], {}
        sets = {s.name: s for s in opsets}
        for decl in (d for d in main.decls if isinstance(d, ast.Genotype)):
            if decl.name in seen:
                self.diag.error(
                    Code.DUPLICATE,
                    f"genotype `{decl.name}` is defined twice",
                    decl.span,
                    labels=(Label(seen[decl.name], "first defined here"),),
                )
                continue
            seen[decl.name] = decl.span
            check_python_name(self.diag, decl.name, decl.span, "genotype")
            if block is None:
                continue
            result.append(self._genotype(decl, block, sets))
        return tuple(result)

    def _genotype(self, decl, block, sets) -> ir.GenotypeIR:
        edges = {e.name: e for e in block.edges}
        chosen: dict[str, str] = {}
        spans: dict[str, Span] = {}
        for choice in decl.choices:
            indices = []
            for index in choice.edge.indices:
                value = self._constant(index, {})
                indices.append(value if isinstance(value, int) else -1)
            name = indexed_display(choice.edge.name, tuple(indices))
            edge = edges.get(name)
            if edge is None:
                self.diag.error(
                    Code.GENOTYPE_UNKNOWN_EDGE,
                    f"genotype `{decl.name}` names `{name}`, which is not a searched edge",
                    choice.edge.span,
                    notes=(
                        "the searched edges are " + ", ".join(f"`{e}`" for e in edges)
                        if edges
                        else "the block has no searched edge",
                    ),
                    help=did_you_mean(name, edges),
                )
                continue
            if edge.name in spans:
                self.diag.error(
                    Code.GENOTYPE_TWICE,
                    f"genotype `{decl.name}` chooses for `{name}` twice",
                    choice.span,
                    labels=(Label(spans[edge.name], "first choice here"),),
                )
                continue
            spans[edge.name] = choice.span
            label = candidate_label(choice.candidate)
            opset = sets.get(edge.opset)
            labels = [c.label for c in opset.candidates] if opset else []
            if opset and opset.broken and label not in labels:
                # a candidate that failed to build (an unknown op, a bad argument) may be
                # the one meant: its own error says it all
                continue
            if opset and label not in labels:
                self.diag.error(
                    Code.GENOTYPE_UNKNOWN_CANDIDATE,
                    f"`{label}` is not a candidate of op set `{edge.opset}` (edge `{name}`)",
                    choice.candidate.span,
                    labels=(Label(opset.span, f"op set `{edge.opset}` is declared here"),),
                    notes=("its candidates are " + ", ".join(f"`{c}`" for c in labels),),
                    help=did_you_mean(label, labels),
                )
                continue
            chosen[edge.py] = label
        missing = [e.name for e in block.edges if e.name not in spans]
        if missing:
            self.diag.error(
                Code.GENOTYPE_MISSING_EDGE,
                f"genotype `{decl.name}` does not choose an op for "
                + ", ".join(f"`{m}`" for m in missing),
                decl.span,
                help="a genotype picks exactly one candidate for every searched edge",
            )
        ordered = tuple((e.py, chosen[e.py]) for e in block.edges if e.py in chosen)
        return ir.GenotypeIR(decl.name, decl.doc, ordered, decl.span)

    def _point_dims(self, block_dims: tuple[str, ...]) -> tuple[ir.PointDimIR, ...]:
        """`dim Cin = C`: each default is an integer expression over the block input's dims
        and the int parameters, evaluated wherever a point or a backbone does not give it."""
        scope = {k: v for k, v in self.space_scope().items() if k not in self.decls.dims}
        scope.update({d: SV(Dim.sym(d)) for d in block_dims})
        result = []
        for decl in self.decls.dims.values():
            if decl.name in block_dims:
                self.diag.error(
                    Code.DUPLICATE,
                    f"`{decl.name}` is already a dimension of the block's input",
                    decl.span,
                    help="an insertion-point dim names what the block's input does not",
                )
                continue
            default = None
            if decl.default is not None:
                default = self.scalar_expr(decl.default, scope)
                if not isinstance(default, Dim):
                    if default is not None:
                        self.diag.error(
                            Code.NOT_A_SIZE,
                            "a dim's default is an integer expression, e.g. `C`",
                            decl.default.span,
                        )
                    continue
            result.append(ir.PointDimIR(decl.name, default, decl.doc, decl.span))
        return tuple(result)

    def _points(self, main, block_dims, point_dims) -> tuple[ir.PointSet, ...]:
        result = []
        dims = (*block_dims, *(d.name for d in point_dims))
        for decl in (d for d in main.decls if isinstance(d, ast.Check)):
            bad = [d for d in decl.dims if d.id not in dims]
            for d in bad:
                self.diag.error(
                    Code.BAD_POINTS,
                    f"`{d.id}` is not a dimension of the block's input or a `dim` of the space",
                    d.span,
                    notes=("the dims are " + ", ".join(dims),) if dims else (),
                    help=did_you_mean(d.id, dims),
                )
            given = {d.id for d in decl.dims}
            for d in point_dims:
                if d.default is None and d.name not in given:
                    bad.append(d)
                    self.diag.error(
                        Code.BAD_POINTS,
                        f"check `{decl.name}` does not give `{d.name}`, which has no default",
                        decl.span,
                        labels=(Label(d.span, f"`{d.name}` is declared here"),),
                        help=f"list it, e.g. `check {decl.name} (C, H, W, {d.name}) in [...]`",
                    )
            points = []
            for point in decl.points:
                if len(point) != len(decl.dims):
                    self.diag.error(
                        Code.BAD_POINTS,
                        f"this point has {len(point)} values for {len(decl.dims)} dims",
                        point[0].span.to(point[-1].span),
                    )
                    continue
                values = [self._constant(v, {}) for v in point]
                if not all(
                    isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in values
                ):
                    self.diag.error(
                        Code.BAD_POINTS,
                        "point values must be positive integers",
                        point[0].span.to(point[-1].span),
                    )
                    continue
                points.append(tuple((d.id, v) for d, v in zip(decl.dims, values, strict=True)))
            if not bad:
                result.append(ir.PointSet(decl.name, tuple(points), decl.span))
        return tuple(result)

    def _requirements(self, main, dims: tuple[str, ...]) -> tuple[ir.Requirement, ...]:
        result = []
        scope = self.space_scope()
        for d in dims:
            scope[d] = SV(Dim.sym(d))
        for decl in (d for d in main.decls if isinstance(d, ast.Require)):
            cond = decl.condition
            if not (isinstance(cond, ast.Binary) and cond.op in COMPARISONS):
                self.diag.error(
                    Code.NOT_A_SIZE, "a requirement is a comparison, e.g. `C % K == 0`", cond.span
                )
                continue
            left = self.scalar_expr(cond.left, scope)
            right = self.scalar_expr(cond.right, scope)
            if isinstance(left, Dim) and isinstance(right, Dim):
                text = main.source[cond.span.start : cond.span.end] or f"{left} {cond.op} {right}"
                result.append(ir.Requirement(left, cond.op, right, text, decl.span))
            elif left is not None and right is not None:
                self.diag.error(
                    Code.NOT_A_SIZE, "a requirement compares integer expressions", cond.span
                )
        return tuple(result)

    def _recipe(self, main) -> tuple[tuple[str, int | float | bool | str], ...]:
        settings = []
        for decl in (d for d in main.decls if isinstance(d, ast.Recipe)):
            for s in decl.settings:
                value = self._constant(s.value, {})
                if value is not None:
                    settings.append((s.name, value))
        return tuple(settings)


def candidate_label(cand: ast.Candidate) -> str:
    """A candidate's name: its label, else the op and its arguments: `conv1d(k=3)` ->
    `conv1d_k3`."""
    if cand.label:
        return cand.label
    parts = [cand.op.id]
    for kw in cand.kwargs:
        value = kw.value
        text = (
            str(value.value).replace(".", "p").replace("-", "m")
            if isinstance(value, ast.Number | ast.Bool | ast.String)
            else (value.id if isinstance(value, ast.Name) else "x")
        )
        parts.append(text if isinstance(value, ast.Name) else f"{kw.name}{text}")
    return "_".join(parts)


def _fits(value, type_: str) -> bool:
    if type_ == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if type_ == "float":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if type_ == "bool":
        return isinstance(value, bool)
    return isinstance(value, str)


def _type_of(value) -> str:
    return {bool: "bool", int: "int", float: "float", str: "str"}.get(type(value), "value")


def _expr_shape(expr: ir.Expr) -> ir.Shape | None:
    return getattr(expr, "shape", None)
