"""AST -> canonical text: the pretty-printer behind `sedsl fmt`.

The layout is fixed (one blank line between declarations, 2-space indent, one candidate,
choice or setting per line, minimal parentheses); only two things come from the source:
comments, and whether a blank line separated two statements or comment groups.

Comments live apart from the tree (`Module.comments`), so each one is first *placed*: a
comment on its own line goes before the next construct of its container (or before the
container's closing brace); a comment after code stays at the end of the line of the
construct it follows. A comment that has no such home goes before its enclosing construct,
so no comment is ever dropped. `##` lines folded into a declaration's `doc` are printed
from the doc, once.

Invariants (tested): `parse(format(m)) == m`, and `format` is idempotent.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from sedsl.language import ast

INDENT = "  "
MAX_WIDTH = 100  # a longer line is wrapped at the top-level operators of its expression
_BLANK_LINE = re.compile(r"\n[ \t\r\f\v]*\n")
_DOCUMENTED = (ast.Param, ast.DimDecl, ast.OpDef, ast.OpSet, ast.Block, ast.Genotype)
_ATOM_PRECEDENCE = 9  # names, numbers, calls and indexing bind tightest


def format_module(module: ast.Module) -> str:
    """The canonical text of `module`, with every comment of `module.comments` kept."""
    return _Formatter(module).run()


# ---- expressions -----------------------------------------------------------------------


def format_expr(expr: ast.Expr | ast.Generator, min_prec: int = 0) -> str:
    """`expr` with the fewest parentheses that parse back to the same tree."""
    if isinstance(expr, ast.Generator):
        return f"{format_expr(expr.element)} for {expr.var} in {format_range(expr.range)}"
    prec = _precedence(expr)
    text = _expr_text(expr, prec)
    return f"({text})" if prec < min_prec else text


def _precedence(expr: ast.Expr) -> int:
    if isinstance(expr, ast.Binary):
        return ast.BINARY_PRECEDENCE[expr.op]
    if isinstance(expr, ast.Unary):
        return ast.UNARY_PRECEDENCE[expr.op]
    return _ATOM_PRECEDENCE


def _operand_precedences(op: str, prec: int) -> tuple[int, int]:
    """The least precedence each side of a binary operator needs to go without parentheses."""
    if op == "**":  # `postfix ** factor`: the base is an atom, the exponent may be `-x`
        return _ATOM_PRECEDENCE, ast.UNARY_PRECEDENCE["-"]
    if prec == ast.BINARY_PRECEDENCE["=="]:  # comparisons do not chain
        return prec + 1, prec + 1
    return prec, prec + 1  # left-associative: `a - (b - c)` keeps its parentheses


def _expr_text(expr: ast.Expr, prec: int) -> str:
    match expr:
        case ast.Number(value=value):
            return format_number(value)
        case ast.String(value=value):
            return format_string(value)
        case ast.Bool(value=value):
            return "true" if value else "false"
        case ast.Name(id=name):
            return name
        case ast.Unary(op="not", operand=operand):
            return "not " + format_expr(operand, prec)
        case ast.Unary(op=op, operand=operand):
            return op + format_expr(operand, prec)
        case ast.Binary(op=op, left=left, right=right):
            left_min, right_min = _operand_precedences(op, prec)
            return f"{format_expr(left, left_min)} {op} {format_expr(right, right_min)}"
        case ast.Call(func=func, args=args, kwargs=kwargs):
            parts = [format_expr(a) for a in args] + [_keyword(k) for k in kwargs]
            return f"{func.id}({', '.join(parts)})"
        case ast.Index(value=value, indices=indices):
            inner = ", ".join(format_expr(i) for i in indices)
            return f"{format_expr(value, _ATOM_PRECEDENCE)}[{inner}]"
    raise TypeError(f"not an expression: {expr!r}")


def _wrapped(head: str, expr: ast.Expr, depth: int) -> str:
    """`head + expr` on one line if it fits; else the expression on its own lines: first
    after `head` (which ends with `=`), then broken before its top-level operators."""
    one_line = f"{head} {format_expr(expr)}"
    if len(INDENT * depth + one_line) <= MAX_WIDTH:
        return one_line
    lines = [head]
    if len(INDENT * (depth + 1) + format_expr(expr)) <= MAX_WIDTH:
        return f"{head}\n{INDENT}{format_expr(expr)}"
    operands = _chain(expr)
    lines.append(INDENT + format_expr(operands[0][1], _precedence(expr)))
    for op, operand in operands[1:]:
        lines.append(INDENT * 2 + f"{op} {format_expr(operand, _precedence(expr) + 1)}")
    return "\n".join(lines)


def _chain(expr: ast.Expr) -> list[tuple[str, ast.Expr]]:
    """`a + b - c` -> [("", a), ("+", b), ("-", c)]: a left-associative chain of operators of
    one precedence, the places where a long expression may break."""
    if not isinstance(expr, ast.Binary) or expr.op in ("**", "==", "!=", "<", "<=", ">", ">="):
        return [("", expr)]
    prec = ast.BINARY_PRECEDENCE[expr.op]
    chain: list[tuple[str, ast.Expr]] = []
    node: ast.Expr = expr
    while isinstance(node, ast.Binary) and ast.BINARY_PRECEDENCE.get(node.op) == prec:
        chain.append((node.op, node.right))
        node = node.left
    chain.append(("", node))
    return chain[::-1]


def format_number(value: int | float) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"not a number: {value!r}")
    if isinstance(value, int):
        return str(value)
    if math.isinf(value):
        return "1e999"  # what the source said, near enough: it parses back to inf
    return repr(value)


def format_string(value: str) -> str:
    """A double-quoted literal that the grammar accepts and that reads back as `value`."""
    out = []
    for char in value:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif char.isprintable():
            out.append(char)
        elif ord(char) < 0x100:
            out.append(f"\\x{ord(char):02x}")
        elif ord(char) < 0x10000:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(f"\\U{ord(char):08x}")
    return '"' + "".join(out) + '"'


_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r"}


def format_range(rng: ast.Range) -> str:
    return f"{format_expr(rng.start)}..{format_expr(rng.stop)}"


def _keyword(kw: ast.Keyword) -> str:
    return f"{kw.name}={format_expr(kw.value)}"


def _shape(shape: ast.ShapeAnn) -> str:
    return "[" + ", ".join(format_expr(d) for d in shape.dims) + "]"


def _target(target: ast.Target) -> str:
    if not target.indices:
        return target.name
    return f"{target.name}[{', '.join(format_expr(i) for i in target.indices)}]"


def _candidate(cand: ast.Candidate) -> str:
    text = f"{cand.label} = {cand.op.id}" if cand.label is not None else cand.op.id
    if cand.kwargs:
        text += "(" + ", ".join(_keyword(k) for k in cand.kwargs) + ")"
    return text


def _op_param(param: ast.TensorParam | ast.ScalarParam) -> str:
    if isinstance(param, ast.TensorParam):
        return f"{param.name}: {_shape(param.shape)}"
    default = f" = {format_expr(param.default)}" if param.default is not None else ""
    return f"{param.name}: {param.type.id}{default}"


# ---- the layout tree -------------------------------------------------------------------


@dataclass(eq=False)
class _Item:
    """One construct that owns output lines: a declaration, statement, candidate, ...

    A simple item is one line; a container has a header line, children and a `}` line.
    """

    node: object
    text: str  # the line, or the header without ` {` for a container
    start: int  # source offsets; 0, 0 for a tree that was not parsed
    end: int
    end_line: int
    children: list[_Item] | None = None
    inline: bool = False  # `{ child }` on one line when no comment is inside
    before: list[ast.Comment] = field(default_factory=list)
    eol: list[ast.Comment] = field(default_factory=list)
    header_eol: list[ast.Comment] = field(default_factory=list)
    inside_end: list[ast.Comment] = field(default_factory=list)  # before the `}`


def _span_of(node) -> tuple[int, int, int]:
    span = getattr(node, "span", ast.NO_SPAN)
    return span.start, span.end, span.end_line


def _simple(node, text: str, span_node=None) -> _Item:
    start, end, end_line = _span_of(span_node if span_node is not None else node)
    return _Item(node, text, start, end, end_line)


def _container(node, header: str, children: list[_Item], inline: bool = False) -> _Item:
    start, end, end_line = _span_of(node)
    return _Item(node, header, start, end, end_line, children=children, inline=inline)


def _stmt_items(stmts: tuple[ast.Stmt, ...], depth: int) -> list[_Item]:
    return [_stmt_item(s, depth) for s in stmts]


def _stmt_item(stmt: ast.Stmt, depth: int) -> _Item:
    match stmt:
        case ast.Assign(target=target, value=value):
            return _simple(stmt, _wrapped(f"{_target(target)} =", value, depth))
        case ast.For(var=var, range=rng, body=body):
            header = f"for {var} in {format_range(rng)}"
            return _container(stmt, header, _stmt_items(body, depth + 1))
        case ast.Shared(name=name, op=op, kwargs=kwargs):
            args = ", ".join(_keyword(k) for k in kwargs)
            return _simple(stmt, f"shared {name} = {op.id}({args})")
    raise TypeError(f"not a statement: {stmt!r}")


def _body_items(body: tuple[ast.Stmt, ...], returns: ast.Expr) -> list[_Item]:
    return [*_stmt_items(body, 1), _simple(returns, _wrapped("return", returns, 1))]


def _signature(name: str, params, result: ast.ShapeAnn) -> str:
    return f"{name}({', '.join(_op_param(p) for p in params)}) -> {_shape(result)}"


def _decl_item(decl: ast.Decl) -> _Item:
    match decl:
        case ast.SpaceDecl(name=name, doc=doc):
            return _simple(
                decl, f"space {name}" + (f" {format_string(doc)}" if doc is not None else "")
            )
        case ast.Import(path=path):
            return _simple(decl, f"import {format_string(path.value)}")
        case ast.Param(name=name, type=type_, default=default):
            return _simple(decl, _wrapped(f"param {name}: {type_.id} =", default, 0))
        case ast.DimDecl(name=name, default=None):
            return _simple(decl, f"dim {name}")
        case ast.DimDecl(name=name, default=default):
            return _simple(decl, _wrapped(f"dim {name} =", default, 0))
        case ast.OpDef(extern=ast.Extern() as extern):
            header = "extern op " + _signature(decl.name, decl.params, decl.result)
            args = [format_expr(a) for a in extern.args]
            args += [f"{k.name}={format_expr(k.value)}" for k in extern.kwargs]
            call = f"({', '.join(args)})" if args else ""
            where = format_string(extern.target.value) + call
            one_line = f"{header} = {where}"
            return _simple(
                decl, one_line if len(one_line) <= MAX_WIDTH else f"{header} =\n{INDENT}{where}"
            )
        case ast.OpDef():
            header = "op " + _signature(decl.name, decl.params, decl.result)
            if decl.one_line and not decl.body:
                return _simple(decl, _wrapped(f"{header} =", decl.returns, 0))
            return _container(decl, header, _body_items(decl.body, decl.returns))
        case ast.OpSet():
            header = "opset " + _signature(decl.name, (decl.input,), decl.result)
            cands = [_simple(c, _candidate(c) + ",") for c in decl.candidates]
            return _container(decl, header, cands)
        case ast.Block():
            header = "block " + _signature(decl.name, (decl.input,), decl.result)
            return _container(decl, header, _body_items(decl.body, decl.returns))
        case ast.Require(condition=condition):
            return _simple(decl, f"require {format_expr(condition)}")
        case ast.Check(name=name, dims=dims, points=points):
            dim_text = ", ".join(d.id for d in dims)
            point_text = ", ".join("(" + ", ".join(map(format_expr, p)) + ")" for p in points)
            return _simple(decl, f"check {name} ({dim_text}) in [{point_text}]")
        case ast.Genotype(name=name, choices=choices):
            items = [_simple(c, f"{_target(c.edge)} = {_candidate(c.candidate)},") for c in choices]
            if len(choices) == 1:  # `genotype se { y = se }`: a list of them reads as a table
                items[0].text = items[0].text.rstrip(",")
                return _container(decl, f"genotype {name}", items, inline=True)
            return _container(decl, f"genotype {name}", items)
        case ast.Recipe(settings=settings):
            items = [_simple(s, f"{s.name} = {format_expr(s.value)},") for s in settings]
            return _container(decl, "recipe", items)
    raise TypeError(f"not a declaration: {decl!r}")


# ---- placing comments --------------------------------------------------------------------


def _folded_docs(module: ast.Module) -> set[int]:
    """Offsets of the `##` comments the parser folded into a declaration's doc.

    Mirrors grammar._attach_docs: the run of `##` lines directly above the declaration."""
    by_line = {c.span.line: c for c in module.comments if c.text.startswith("##")}
    folded: set[int] = set()
    for decl in module.decls:
        if not isinstance(decl, _DOCUMENTED) or decl.doc is None:
            continue
        line = decl.span.line - 1
        while line in by_line:
            folded.add(by_line[line].span.start)
            line -= 1
    return folded


def _own_line(source: str, comment: ast.Comment) -> bool:
    line_start = source.rfind("\n", 0, comment.span.start) + 1
    return source[line_start : comment.span.start].strip() == ""


def _place(root: _Item, comment: ast.Comment, own_line: bool) -> None:
    offset, line = comment.span.start, comment.span.line
    node = root
    while True:
        children = node.children or []
        inside = next((c for c in children if c.start <= offset < c.end), None)
        if inside is None:
            break
        if inside.children is None:  # within a one-line construct: keep it next to it
            (inside.before if own_line else inside.eol).append(comment)
            return
        node = inside
    children = node.children or []
    following = next((c for c in children if c.start > offset), None)
    if not own_line:
        preceding = [c for c in children if c.end <= offset]
        if preceding and preceding[-1].end_line == line:
            preceding[-1].eol.append(comment)
            return
        if not preceding and node is not root:
            node.header_eol.append(comment)
            return
    if following is not None:
        following.before.append(comment)
    else:
        node.inside_end.append(comment)


# ---- printing ----------------------------------------------------------------------------


@dataclass
class _Line:
    text: str  # with indentation; "" for a blank line
    comment: str = ""

    def render(self) -> str:
        if not self.comment:
            return self.text
        return f"{self.text}  {self.comment}" if self.text else self.comment


class _Formatter:
    def __init__(self, module: ast.Module):
        self.module = module
        self.source = module.source
        self.lines: list[_Line] = []
        self.folded_docs = _folded_docs(module)

    def run(self) -> str:
        decls = [_decl_item(d) for d in self.module.decls]
        root = _Item(self.module, "", 0, len(self.source), 0, children=decls)
        for comment in sorted(self.module.comments, key=lambda c: c.span.start):
            if comment.span.start not in self.folded_docs:
                _place(root, comment, _own_line(self.source, comment))
        previous: _Item | None = None
        for item in decls:
            if previous is not None:
                self._gap(self._declarations_apart(previous, item, self._first_offset(item)))
            self._item(item, 0)
            previous = item
        end = previous.end if previous is not None else 0
        self._comments(root.inside_end, 0, end, force_gap=previous is not None)
        return "".join(line.render().rstrip() + "\n" for line in self.lines)

    # -- blank lines
    def _blank_between(self, start: int, end: int) -> bool:
        return 0 <= start < end and _BLANK_LINE.search(self.source, start, end) is not None

    def _gap(self, wanted: bool) -> None:
        if wanted and self.lines and self.lines[-1].text != "":
            self.lines.append(_Line(""))

    def _first_offset(self, item: _Item) -> int:
        offsets = [c.span.start for c in item.before] + [item.start]
        return min(offsets)

    def _declarations_apart(self, previous: _Item, item: _Item, start: int) -> bool:
        """One blank line between declarations, except that a run of one-line declarations
        of one kind (imports, params, one-line ops, requires, checks) may stay together."""
        in_run = type(previous.node) is type(item.node) and _one_line(previous) and _one_line(item)
        return not in_run or self._blank_between(previous.end, start)

    # -- comments
    def _comments(self, comments, depth: int, after: int, force_gap: bool = False) -> int:
        """Own-line comments, keeping the blank lines that separated them; returns the
        source offset where the last one ends."""
        for i, comment in enumerate(comments):
            self._gap((force_gap and i == 0) or self._blank_between(after, comment.span.start))
            self.lines.append(_Line(INDENT * depth + _comment_text(comment)))
            after = comment.span.end
        return after

    def _line(self, depth: int, text: str, comments: list[ast.Comment]) -> None:
        """Code (wrapped code has several lines); if several comments want its end, all but
        the last go above it."""
        *above, last = comments or [None]
        for comment in above:
            self.lines.append(_Line(INDENT * depth + _comment_text(comment)))
        *first, final = text.split("\n")
        self.lines.extend(_Line(INDENT * depth + part) for part in first)
        self.lines.append(_Line(INDENT * depth + final, _comment_text(last) if last else ""))

    def _keep_doc_apart(self) -> None:
        """A `##` comment right above a declaration would become its doc when parsed again."""
        if self.lines and self.lines[-1].text != "" and _is_doc(self.lines[-1]):
            self.lines.append(_Line(""))

    # -- items
    def _item(self, item: _Item, depth: int, after: int = -1) -> None:
        after = self._comments(item.before, depth, after)
        if item.before:
            self._gap(self._blank_between(after, item.start))
        node = item.node
        if depth == 0 and isinstance(node, _DOCUMENTED):
            self._keep_doc_apart()
            for doc_line in (node.doc or "").split("\n") if node.doc is not None else ():
                self.lines.append(_Line(f"## {doc_line}".rstrip()))
        if item.children is None:
            self._line(depth, item.text, item.eol)
            return
        if not item.children and not item.inside_end:
            self._line(depth, item.text + " {}", item.header_eol + item.eol)
            return
        if item.inline and not item.inside_end and not _has_comments(item.children):
            inner = " ".join(child.text for child in item.children)
            self._line(depth, f"{item.text} {{ {inner} }}", item.header_eol + item.eol)
            return
        self._line(depth, item.text + " {", item.header_eol)
        previous_end = -1
        for child in item.children:
            start = self._first_offset(child)
            if previous_end >= 0:
                self._gap(self._blank_between(previous_end, start))
            self._item(child, depth + 1, previous_end)
            previous_end = child.end
        self._comments(item.inside_end, depth + 1, previous_end)
        self._line(depth, "}", item.eol)


def _one_line(item: _Item) -> bool:
    """A declaration with no body (or an inline one), however long its expression."""
    return item.children is None or (
        item.inline and not item.inside_end and not _has_comments(item.children)
    )


def _has_comments(items: list[_Item]) -> bool:
    return any(i.before or i.eol or i.header_eol or i.inside_end for i in items)


def _comment_text(comment: ast.Comment) -> str:
    return comment.text.rstrip()


def _is_doc(line: _Line) -> bool:
    return line.comment.startswith("##") or line.text.lstrip().startswith("##")
