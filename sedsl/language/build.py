"""Parse-tree nodes -> frozen AST nodes, one method per grammar rule (by its tree name).

Shared by both parsers, so they build the same AST by construction: the Lark path
(grammar.py) calls a method per transformed tree, the fast parser (fastparse.py) per
reduction. Each method gets the node's position and its children, where tokens are
`Tok`s; it makes a Span only where the node keeps one (a Span costs more than most nodes).
Lark-free, so the fast path never imports lark.
"""

from __future__ import annotations

import ast as pyast
from typing import NamedTuple

from sedsl.diagnostics.codes import Code
from sedsl.diagnostics.span import Span
from sedsl.language import ast

MAX_NESTING = 200  # deeper trees would overflow the recursive passes after parsing


class Tok(NamedTuple):
    """A token's text and position, as Lark reports it (lines and columns from 1)."""

    text: str
    line: int
    column: int
    end_line: int
    end_column: int
    start: int
    end: int


_new_span = tuple.__new__


def _string_value(text: str) -> str:
    try:
        value = pyast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text[1:-1]
    return value if isinstance(value, str) else text[1:-1]


class AstBuilder:
    def __init__(self, file: str):
        self.file = file
        self.problems: list = []  # diagnostics found while building the tree

    def span(self, at: tuple | None) -> Span:
        """The Span of a position: a Tok, or a node's (_, line, column, end_line,
        end_column, start, end); None for a node that covers no text."""
        if at is None:
            return Span.point(self.file)
        # the Span that Span(self.file, *at[1:]) makes, without its __new__'s Python frame
        return _new_span(Span, (self.file, at[1], at[2], at[3], at[4], at[5], at[6]))

    # declarations
    def space_decl(self, at, children):
        name, doc = children
        return ast.SpaceDecl(
            name.text, _string_value(doc.text) if doc else None, span=self.span(at)
        )

    def import_decl(self, at, children):
        (tok,) = children
        path = ast.String(_string_value(tok.text), span=self.span(tok))
        return ast.Import(path, span=self.span(at))

    def param_decl(self, at, children):
        name, type_, default = children
        type_name = ast.Name(type_.text, span=self.span(type_))
        return ast.Param(name.text, type_name, default, span=self.span(at))

    def dim_decl(self, at, children):
        name, default = children
        return ast.DimDecl(name.text, default, span=self.span(at))

    def op_decl(self, at, children):
        name, params, result, (body, returns, one_line) = children
        return ast.OpDef(
            name.text, params, result, body, returns, one_line=one_line, span=self.span(at)
        )

    def extern_decl(self, at, children):
        name, params, result, tok, call = children
        target = ast.String(_string_value(tok.text), span=self.span(tok))
        args, kwargs = call if call is not None else ((), ())
        extern = ast.Extern(target, args, kwargs, span=self.span(at))
        return ast.OpDef(name.text, params, result, (), target, extern=extern, span=self.span(at))

    def extern_args(self, at, children):
        (args,) = children
        positional = tuple(a for a in args or () if not isinstance(a, ast.Keyword))
        return positional, tuple(a for a in args or () if isinstance(a, ast.Keyword))

    def op_params(self, at, children):
        return tuple(children)

    def tensor_param(self, at, children):
        name, shape = children
        return ast.TensorParam(name.text, shape, span=self.span(at))

    def scalar_param(self, at, children):
        name, type_, *default = children
        return ast.ScalarParam(
            name.text,
            ast.Name(type_.text, span=self.span(type_)),
            default[0] if default else None,
            span=self.span(at),
        )

    def expr_body(self, at, children):
        return ((), children[0], True)

    def block_body(self, at, children):
        *body, returns = children
        return (tuple(body), returns, False)

    def opset_decl(self, at, children):
        name, input_, result, candidates = children
        return ast.OpSet(name.text, input_, result, candidates, span=self.span(at))

    def candidates(self, at, children):
        return tuple(children)

    def candidate(self, at, children):
        label, op, kwargs = children
        return ast.Candidate(
            label.text if label is not None else None,
            ast.Name(op.text, span=self.span(op)),
            kwargs or (),
            span=self.span(at),
        )

    def block_decl(self, at, children):
        name, input_, result, *body, returns = children
        return ast.Block(name.text, input_, result, tuple(body), returns, span=self.span(at))

    def require_decl(self, at, children):
        return ast.Require(children[0], span=self.span(at))

    def check_decl(self, at, children):
        name, *rest = children
        dims = tuple(ast.Name(t.text, span=self.span(t)) for t in rest if isinstance(t, Tok))
        points = tuple(c for c in rest if not isinstance(c, Tok))
        return ast.Check(name.text, dims, points, span=self.span(at))

    def point(self, at, children):
        return tuple(children)

    def genotype_decl(self, at, children):
        name, *choices = children
        return ast.Genotype(
            name.text, tuple(c for c in choices if c is not None), span=self.span(at)
        )

    def choice(self, at, children):
        target, candidate = children
        return ast.Choice(target, candidate, span=self.span(at))

    def recipe_decl(self, at, children):
        return ast.Recipe(tuple(c for c in children if c is not None), span=self.span(at))

    def setting(self, at, children):
        name, value = children
        return ast.Setting(name.text, value, span=self.span(at))

    def shape(self, at, children):
        return ast.ShapeAnn(tuple(children), span=self.span(at))

    # statements
    def assign(self, at, children):
        target, value = children
        return ast.Assign(target, value, span=self.span(at))

    def target(self, at, children):
        name, *indices = children
        return ast.Target(name.text, tuple(indices), span=self.span(at))

    def for_stmt(self, at, children):
        var, range_, *body = children
        return ast.For(var.text, range_, tuple(body), span=self.span(at))

    def shared_stmt(self, at, children):
        name, op, kwargs = children
        return ast.Shared(
            name.text, ast.Name(op.text, span=self.span(op)), kwargs or (), span=self.span(at)
        )

    def range(self, at, children):
        start, stop = children
        return ast.Range(start, stop, span=self.span(at))

    # expressions
    def _binary(op):  # noqa: N805 - a factory used in the class body
        def build(self, at, children):
            left, right = children
            return ast.Binary(op, left, right, span=self.span(at))

        return build

    or_ = _binary("or")
    and_ = _binary("and")
    eq = _binary("==")
    ne = _binary("!=")
    lt = _binary("<")
    le = _binary("<=")
    gt = _binary(">")
    ge = _binary(">=")
    add = _binary("+")
    sub = _binary("-")
    mul = _binary("*")
    div = _binary("/")
    floordiv = _binary("//")
    mod = _binary("%")
    pow = _binary("**")

    def not_(self, at, children):
        return ast.Unary("not", children[0], span=self.span(at))

    def neg(self, at, children):
        return ast.Unary("-", children[0], span=self.span(at))

    def call(self, at, children):
        func, args = children
        if not isinstance(func, ast.Name):
            func = ast.Name("<expression>", span=func.span)
        positional, keywords = [], []
        for arg in args or ():
            (keywords if isinstance(arg, ast.Keyword) else positional).append(arg)
        return ast.Call(func, tuple(positional), tuple(keywords), span=self.span(at))

    def args(self, at, children):
        return tuple(children)

    def kwargs(self, at, children):
        return tuple(children)

    def kwarg(self, at, children):
        name, value = children
        return ast.Keyword(name.text, value, span=self.span(at))

    def generator(self, at, children):
        element, var, range_ = children
        return ast.Generator(element, var.text, range_, span=self.span(at))

    def index(self, at, children):
        value, *indices = children
        return ast.Index(value, tuple(indices), span=self.span(at))

    def number(self, at, children):
        (tok,) = children
        text = tok.text
        try:
            value = int(text) if text.isdigit() else float(text)
        except ValueError:  # more digits than Python converts (4300)
            from sedsl.diagnostics.diagnostic import Diagnostic, Severity

            self.problems.append(
                Diagnostic(
                    Code.SYNTAX,
                    Severity.ERROR,
                    f"number with {len(text):,} digits is too long",
                    self.span(tok),
                    label="too long",
                )
            )
            value = 0
        return ast.Number(value, span=self.span(tok))

    def string(self, at, children):
        (tok,) = children
        return ast.String(_string_value(tok.text), span=self.span(tok))

    def name(self, at, children):
        (tok,) = children
        return ast.Name(tok.text, span=self.span(tok))

    def true(self, at, children):
        return ast.Bool(True, span=self.span(at))

    def false(self, at, children):
        return ast.Bool(False, span=self.span(at))


# tree name -> builder function, called as RULES[name](builder, at, children); names
# without one (`start`) stay parse-tree nodes. Made once: per file it cost a dir() scan.
RULES = {
    name: fn
    for name, fn in vars(AstBuilder).items()
    if callable(fn) and not name.startswith("_") and name != "span"
}
