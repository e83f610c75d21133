"""Parse-tree nodes -> frozen AST nodes, one method per grammar rule (by its tree name).

Shared by both parsers, so they build the same AST by construction: the Lark path
(grammar.py) calls a method per transformed tree, the fast parser (fastparse.py) per
reduction. Each method gets the node's Span and its children, where tokens are `Tok`s.
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
        # tree name -> method; names without one (`start`) stay parse-tree nodes
        self.rules = {
            name: getattr(self, name)
            for name in dir(type(self))
            if not name.startswith("_") and name != "tspan"
        }

    def tspan(self, tok: Tok) -> Span:
        return Span(self.file, *tok[1:])

    # declarations
    def space_decl(self, span, children):
        name, doc = children
        return ast.SpaceDecl(name.text, _string_value(doc.text) if doc else None, span=span)

    def import_decl(self, span, children):
        (tok,) = children
        path = ast.String(_string_value(tok.text), span=self.tspan(tok))
        return ast.Import(path, span=span)

    def param_decl(self, span, children):
        name, type_, default = children
        type_name = ast.Name(type_.text, span=self.tspan(type_))
        return ast.Param(name.text, type_name, default, span=span)

    def dim_decl(self, span, children):
        name, default = children
        return ast.DimDecl(name.text, default, span=span)

    def op_decl(self, span, children):
        name, params, result, (body, returns, one_line) = children
        return ast.OpDef(name.text, params, result, body, returns, one_line=one_line, span=span)

    def extern_decl(self, span, children):
        name, params, result, tok, call = children
        target = ast.String(_string_value(tok.text), span=self.tspan(tok))
        args, kwargs = call if call is not None else ((), ())
        extern = ast.Extern(target, args, kwargs, span=span)
        return ast.OpDef(name.text, params, result, (), target, extern=extern, span=span)

    def extern_args(self, span, children):
        (args,) = children
        positional = tuple(a for a in args or () if not isinstance(a, ast.Keyword))
        return positional, tuple(a for a in args or () if isinstance(a, ast.Keyword))

    def op_params(self, span, children):
        return tuple(children)

    def tensor_param(self, span, children):
        name, shape = children
        return ast.TensorParam(name.text, shape, span=span)

    def scalar_param(self, span, children):
        name, type_, *default = children
        return ast.ScalarParam(
            name.text,
            ast.Name(type_.text, span=self.tspan(type_)),
            default[0] if default else None,
            span=span,
        )

    def expr_body(self, span, children):
        return ((), children[0], True)

    def block_body(self, span, children):
        *body, returns = children
        return (tuple(body), returns, False)

    def opset_decl(self, span, children):
        name, input_, result, candidates = children
        return ast.OpSet(name.text, input_, result, candidates, span=span)

    def candidates(self, span, children):
        return tuple(children)

    def candidate(self, span, children):
        label, op, kwargs = children
        return ast.Candidate(
            label.text if label is not None else None,
            ast.Name(op.text, span=self.tspan(op)),
            kwargs or (),
            span=span,
        )

    def block_decl(self, span, children):
        name, input_, result, *body, returns = children
        return ast.Block(name.text, input_, result, tuple(body), returns, span=span)

    def require_decl(self, span, children):
        return ast.Require(children[0], span=span)

    def check_decl(self, span, children):
        name, *rest = children
        dims = tuple(ast.Name(t.text, span=self.tspan(t)) for t in rest if isinstance(t, Tok))
        points = tuple(c for c in rest if not isinstance(c, Tok))
        return ast.Check(name.text, dims, points, span=span)

    def point(self, span, children):
        return tuple(children)

    def genotype_decl(self, span, children):
        name, *choices = children
        return ast.Genotype(name.text, tuple(c for c in choices if c is not None), span=span)

    def choice(self, span, children):
        target, candidate = children
        return ast.Choice(target, candidate, span=span)

    def recipe_decl(self, span, children):
        return ast.Recipe(tuple(c for c in children if c is not None), span=span)

    def setting(self, span, children):
        name, value = children
        return ast.Setting(name.text, value, span=span)

    def shape(self, span, children):
        return ast.ShapeAnn(tuple(children), span=span)

    # statements
    def assign(self, span, children):
        target, value = children
        return ast.Assign(target, value, span=span)

    def target(self, span, children):
        name, *indices = children
        return ast.Target(name.text, tuple(indices), span=span)

    def for_stmt(self, span, children):
        var, range_, *body = children
        return ast.For(var.text, range_, tuple(body), span=span)

    def shared_stmt(self, span, children):
        name, op, kwargs = children
        return ast.Shared(
            name.text, ast.Name(op.text, span=self.tspan(op)), kwargs or (), span=span
        )

    def range(self, span, children):
        start, stop = children
        return ast.Range(start, stop, span=span)

    # expressions
    def _binary(op):  # noqa: N805 - a factory used in the class body
        def build(self, span, children):
            left, right = children
            return ast.Binary(op, left, right, span=span)

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

    def not_(self, span, children):
        return ast.Unary("not", children[0], span=span)

    def neg(self, span, children):
        return ast.Unary("-", children[0], span=span)

    def call(self, span, children):
        func, args = children
        if not isinstance(func, ast.Name):
            func = ast.Name("<expression>", span=func.span)
        positional, keywords = [], []
        for arg in args or ():
            (keywords if isinstance(arg, ast.Keyword) else positional).append(arg)
        return ast.Call(func, tuple(positional), tuple(keywords), span=span)

    def args(self, span, children):
        return tuple(children)

    def kwargs(self, span, children):
        return tuple(children)

    def kwarg(self, span, children):
        name, value = children
        return ast.Keyword(name.text, value, span=span)

    def generator(self, span, children):
        element, var, range_ = children
        return ast.Generator(element, var.text, range_, span=span)

    def index(self, span, children):
        value, *indices = children
        return ast.Index(value, tuple(indices), span=span)

    def number(self, span, children):
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
                    self.tspan(tok),
                    label="too long",
                )
            )
            value = 0
        return ast.Number(value, span=self.tspan(tok))

    def string(self, span, children):
        (tok,) = children
        return ast.String(_string_value(tok.text), span=self.tspan(tok))

    def name(self, span, children):
        (tok,) = children
        return ast.Name(tok.text, span=self.tspan(tok))

    def true(self, span, children):
        return ast.Bool(True, span=span)

    def false(self, span, children):
        return ast.Bool(False, span=span)
