"""What the language server knows about one open file, without pygls: the checker's
diagnostics (as `sedsl check` reports them), and what a position in the file names.

`analyse` runs the resolver and the checker over the editor's text (unsaved buffers of
open imported files too), keeping every AST it parsed and the resolver's tables. `hover`
and `definition` find the innermost AST node at a position by its span and look its name
up in the resolved IR: a node's symbolic shape, an op's or op set's signature, the file an
import names. Positions here are 1-based lines and columns in characters, as in Span.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sedsl.check.checker import check_space
from sedsl.diagnostics.diagnostic import Diagnostic, Diagnostics
from sedsl.diagnostics.span import Span
from sedsl.language import ast, ir
from sedsl.language.names import indexed_display
from sedsl.language.parser import MAX_BYTES, parse_bytes, parse_source
from sedsl.language.resolve import Resolver, candidate_label
from sedsl.language.values import shape_text
from sedsl.ops.library import PRIMITIVES
from sedsl.resources import library_path


class _EditorResolver(Resolver):
    """The resolver, reading open files from the editor and keeping each AST it parsed."""

    def __init__(self, diagnostics: Diagnostics, texts: Mapping[Path, str]):
        super().__init__(diagnostics, {})
        self.texts = texts
        self.modules: dict[str, ast.Module] = {}  # by display name, as spans name files
        self.paths: dict[str, Path] = {}

    def parse(self, path: Path, display: str) -> ast.Module:
        text = self.texts.get(path.resolve())
        if text is None:
            module = super().parse(path, display)
        else:
            data = text.encode("utf-8", "surrogatepass")
            if len(data) > MAX_BYTES:  # the checker's own message
                module = parse_bytes(data, display, self.diag)
            else:  # not through the parse cache: every keystroke would be an entry
                module = parse_source(text, display, self.diag)
        self.modules[display] = module
        self.paths[display] = path.resolve()
        return module


@dataclass(frozen=True)
class Analysis:
    path: Path  # the analysed file, resolved
    display: str  # how its spans name it
    diagnostics: tuple[Diagnostic, ...]  # sorted, as `sedsl check` prints them
    space: ir.SpaceIR | None
    modules: dict[str, ast.Module] = field(repr=False)
    paths: dict[str, Path] = field(repr=False)  # display name -> file
    decls: dict[str, ast.Param | ast.DimDecl | ast.OpDef | ast.OpSet] = field(repr=False)
    op_irs: dict[str, ir.OpIR] = field(repr=False)  # every op that built, used or not

    @property
    def module(self) -> ast.Module | None:
        return self.modules.get(self.display)

    def path_of(self, span: Span) -> Path:
        return self.paths.get(span.file) or Path(span.file).resolve()


def analyse(path: Path, texts: Mapping[Path, str] | None = None) -> Analysis:
    """Check `path` as `sedsl check` does, with `texts` (resolved path -> text) standing in
    for files the editor has open."""
    path = path.resolve()
    display = str(path)
    diagnostics = Diagnostics()
    resolver = _EditorResolver(diagnostics, texts or {})
    space = resolver.run(path, display)
    if space is not None:
        check_space(space, diagnostics)
    tables = resolver.decls
    decls = {**tables.params, **tables.dims, **tables.ops, **tables.opsets}
    return Analysis(
        path,
        display,
        tuple(diagnostics.sorted()),
        space,
        resolver.modules,
        resolver.paths,
        decls,
        {name: op for name, op in resolver.op_cache.items() if op is not None},
    )


# ---- what is at a position ---------------------------------------------------------


def _contains(span: Span, line: int, column: int) -> bool:
    if span.line <= 0:
        return False
    after_start = (line, column) >= (span.line, span.column)
    before_end = (line, column) < (span.end_line, span.end_column)
    return after_start and before_end


def _children(node) -> Iterator:
    for f in dataclasses.fields(node):
        if f.name == "span":
            continue
        value = getattr(node, f.name)
        items = value if isinstance(value, tuple) else (value,)
        for item in items:
            if isinstance(item, tuple):  # check points: tuples of expressions
                yield from (x for x in item if dataclasses.is_dataclass(x))
            elif dataclasses.is_dataclass(item):
                yield item


def _chain(module: ast.Module, line: int, column: int) -> list:
    """The AST nodes whose spans hold the position, outermost first."""
    chain: list = []
    nodes = list(module.decls)
    while True:
        inner = next((n for n in nodes if _contains(n.span, line, column)), None)
        if inner is None:
            return chain
        chain.append(inner)
        nodes = list(_children(inner))


@dataclass(frozen=True)
class Target:
    """What a position names: a hover text and, where it has one, a definition span or file."""

    hover: str
    span: Span | None = None
    file: Path | None = None


def lookup(an: Analysis, line: int, column: int) -> Target | None:
    module = an.module
    if module is None:
        return None
    chain = _chain(module, line, column)
    if not chain:
        return None
    decl, inner = chain[0], chain[-1]
    if isinstance(decl, ast.Import):
        return _import(an, decl)
    if isinstance(inner, ast.Name):
        if len(chain) > 2 and isinstance(chain[-3], ast.Choice):  # `y = se` in a genotype
            return _chosen(an, chain[-3]) or _name(an, decl, inner.id)
        return _name(an, decl, inner.id)
    if isinstance(inner, ast.Target):
        return _node(an, decl, inner.name)
    if isinstance(inner, ast.Choice):
        return _node(an, decl, inner.edge.name)
    if isinstance(inner, ast.Candidate) and isinstance(decl, ast.OpSet):
        return _candidate(an, decl.name, candidate_label(inner))
    if isinstance(inner, ast.TensorParam):
        return _node(an, decl, inner.name)
    if isinstance(inner, ast.Shared):
        return _node(an, decl, inner.name) or _name(an, decl, inner.op.id)
    if inner is decl and isinstance(decl, ast.Block):
        return _block(an, decl)
    if inner is decl and isinstance(decl, ast.Param | ast.DimDecl | ast.OpDef | ast.OpSet):
        return _name(an, decl, decl.name)
    return None


def hover(an: Analysis, line: int, column: int) -> str | None:
    target = lookup(an, line, column)
    return target.hover if target else None


def definition(an: Analysis, line: int, column: int) -> tuple[Path, Span | None] | None:
    """The file and span a position's name is defined at (span None: the file's start)."""
    target = lookup(an, line, column)
    if target is None:
        return None
    if target.file is not None:
        return target.file, None
    if target.span is not None:
        return an.path_of(target.span), target.span
    return None


# ---- hover texts -------------------------------------------------------------------


def _code(text: str) -> str:
    return f"```space\n{text}\n```"


def _source(an: Analysis, span: Span, end: Span | None = None) -> str:
    """The source text of a span (to `end`'s end), on one line."""
    module = an.modules.get(span.file)
    if module is None:
        return ""
    text = module.source[span.start : (end or span).end]
    return " ".join(text.split())


def _with_doc(text: str, doc: str | None) -> str:
    return text + (f"\n\n{doc}" if doc else "")


def _import(an: Analysis, decl: ast.Import) -> Target | None:
    spec = decl.path.value
    shipped = library_path(spec)
    target = (shipped or an.path_of(decl.span).parent / spec).resolve()
    if not target.is_file():
        return None
    what = "shipped library" if shipped else "imported file"
    return Target(f"{what} `{spec}`\n\n{target}", file=target)


def _graph_of(an: Analysis, decl) -> ir.Graph | None:
    """The graph a declaration's names live in: an op's body, else the block's."""
    if isinstance(decl, ast.OpDef):
        op = an.op_irs.get(decl.name)
        return op.graph if op else None
    block = an.space.block if an.space else None
    if block is None or not isinstance(decl, ast.Block | ast.Genotype | ast.Check | ast.Require):
        return None
    return block.graph


def _node(an: Analysis, decl, name: str) -> Target | None:
    graph = _graph_of(an, decl)
    if graph is None:
        return None
    nodes = [n for n in graph.nodes if n.name == name or n.name.startswith(f"{name}[")]
    if nodes:
        lines = [f"{n.name}: {shape_text(n.shape) if n.shape else 'list'}" for n in nodes]
        text = _code("\n".join(lines))
        edges = {e.py: e for e in an.space.block.edges} if an.space and an.space.block else {}
        edge = next((edges[n.expr.edge] for n in nodes if isinstance(n.expr, ir.EdgeCall)), None)
        if edge is not None:
            opset = next((s for s in an.space.opsets if s.name == edge.opset), None)
            count = f" ({len(opset.candidates)} candidates)" if opset else ""
            text += f"\n\nsearched edge over op set `{edge.opset}`{count}"
        return Target(text, span=nodes[0].span)
    inputs = dict(graph.inputs)
    if name in inputs:
        return Target(_code(f"{name}: {shape_text(inputs[name])}"), span=decl.span)
    return None


def _name(an: Analysis, decl, name: str) -> Target | None:
    """A name used in `decl`: a node or input of its graph, else a top-level declaration."""
    local = _node(an, decl, name) if not isinstance(decl, ast.OpSet) else None
    if local is not None:
        return local
    if isinstance(decl, ast.OpDef):  # the op's own parameters shadow the space's
        own = next((p for p in decl.params if p.name == name), None)
        if isinstance(own, ast.ScalarParam):
            text = _code(_source(an, own.span)) + f"\n\nparameter of op `{decl.name}`"
            return Target(text, span=own.span)
    shared = next(
        (st for st in _statements(decl) if isinstance(st, ast.Shared) and st.name == name), None
    )
    if shared is not None:
        op = _name(an, None, shared.op.id)
        text = f"shared instance `{name}`: one module for every call, `{_source(an, shared.span)}`"
        return Target(text + (f"\n\n{op.hover}" if op else ""), span=shared.span)
    found = an.decls.get(name)
    if isinstance(found, ast.OpDef):
        return _op(an, found)
    if isinstance(found, ast.OpSet):
        return _opset(an, found)
    if isinstance(found, ast.Param):
        value = (
            next((p.value for p in an.space.params if p.name == name), None) if an.space else None
        )
        shown = f"param {name}: {found.type.id}"
        if value is not None:
            shown += " = " + _literal(value)
        return Target(_with_doc(_code(shown), found.doc), span=found.span)
    if isinstance(found, ast.DimDecl):
        return Target(_with_doc(_code(_source(an, found.span)), found.doc), span=found.span)
    prim = PRIMITIVES.get(name)
    if prim is not None:
        params = ", ".join(
            p.name + (f"={p.default}" if p.default is not None else "") for p in prim.params
        )
        text = _code(f"{name}({params})\n{prim.signature}")
        return Target(_with_doc(text + "\n\nprimitive op", prim.doc))
    return _dim(an, decl, name)


def _dim(an: Analysis, decl, name: str) -> Target | None:
    """A size symbol: of an op's input signature, or of the block's input, with the values
    the space's instantiation points give it."""
    if isinstance(decl, ast.OpDef):
        op = an.op_irs.get(decl.name)
        if op is not None and name in op.dims:
            return Target(_code(f"dim {name}") + f"\n\nbound by the input of op `{op.name}`")
        return None
    block = an.space.block if an.space else None
    if block is None or name not in {str(d) for d in block.input}:
        return None
    text = _code(f"dim {name}") + f"\n\nof the block's input {shape_text(block.input)}"
    for point_set in an.space.point_sets:
        values = [str(v) for point in point_set.points for k, v in point if k == name]
        if values:
            text += f"\n\n`{point_set.name}`: {', '.join(values)}"
    return Target(text)


def _statements(decl) -> Iterator[ast.Stmt]:
    """Every statement of a block or op body, loops' bodies included."""
    stack = list(getattr(decl, "body", ()))
    while stack:
        stmt = stack.pop()
        yield stmt
        if isinstance(stmt, ast.For):
            stack.extend(stmt.body)


def _literal(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return f'"{value}"' if isinstance(value, str) else str(value)


def _op(an: Analysis, decl: ast.OpDef) -> Target:
    signature = _source(an, decl.span, decl.result.span)
    return Target(_with_doc(_code(signature), decl.doc), span=decl.span)


def _opset(an: Analysis, decl: ast.OpSet) -> Target:
    signature = _source(an, decl.span, decl.result.span)
    built = next((s for s in an.space.opsets if s.name == decl.name), None) if an.space else None
    labels = [c.label for c in built.candidates] if built else []
    text = _code(signature)
    if labels:
        text += "\n\ncandidates: " + ", ".join(f"`{label}`" for label in labels)
    return Target(_with_doc(text, decl.doc), span=decl.span)


def _block(an: Analysis, decl: ast.Block) -> Target:
    signature = _source(an, decl.span, decl.result.span)
    return Target(_with_doc(_code(signature), decl.doc), span=decl.span)


def _candidate(an: Analysis, opset: str, label: str) -> Target | None:
    built = next((s for s in an.space.opsets if s.name == opset), None) if an.space else None
    cand = next((c for c in built.candidates if c.label == label), None) if built else None
    if cand is None:
        return None
    params = ", ".join(f"{k}={v}" for k, v in cand.params)
    text = _code(f"{label} = {cand.op}({params}) -> {shape_text(cand.result)}")
    return Target(text + f"\n\ncandidate of op set `{opset}`", span=cand.span)


def _chosen(an: Analysis, choice: ast.Choice) -> Target | None:
    """The candidate a genotype chooses for an edge, in that edge's op set."""
    block = an.space.block if an.space else None
    if block is None:
        return None
    indices = tuple(i.value if isinstance(i, ast.Number) else -1 for i in choice.edge.indices)
    name = indexed_display(choice.edge.name, indices)
    edge = next((e for e in block.edges if e.name == name), None)
    if edge is None:
        return None
    return _candidate(an, edge.opset, candidate_label(choice.candidate))
