"""The Lark front end: LALR with propagate_positions builds the tree, a Transformer makes
frozen AST nodes with spans, and syntax errors become diagnostics that name the expected
tokens in words. Imported only when the parse cache misses (see parser.py)."""

from __future__ import annotations

import ast as pyast
import re
from functools import lru_cache

import lark
from lark import Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from sedsl import GRAMMAR_PATH
from sedsl.diagnostics.codes import Code
from sedsl.diagnostics.diagnostic import Diagnostics
from sedsl.diagnostics.span import Span
from sedsl.language import ast

MAX_NESTING = 200  # deeper trees would overflow the recursive passes after parsing

_TERMINAL_WORDS = {
    "NAME": "a name",
    "NUMBER": "a number",
    "STRING": "a string",
    "$END": "end of file",
}


# Comments and strings are the only tokens that can hold `#`, so this finds exactly the
# comments the lexer skips. (A lexer callback would do the same at twice the parse time.)
_COMMENT_OR_STRING = re.compile(r'"(?:[^"\\\n]|\\.)*"|#[^\n]*')


@lru_cache(maxsize=1)
def _lark() -> lark.Lark:
    # cache=True stores the compiled LALR tables in the temp dir: a warm start skips
    # grammar analysis, which keeps `sedsl check` fast.
    return lark.Lark(
        GRAMMAR_PATH.read_text(encoding="utf-8"),
        parser="lalr",
        propagate_positions=True,
        maybe_placeholders=True,
        cache=True,
    )


def parse_source(text: str, file: str, diagnostics: Diagnostics) -> ast.Module:
    """Parse decoded text with Lark; the text is known to be small enough and NUL-free."""
    if "\x00" in text:
        offset = text.index("\x00")
        line = text.count("\n", 0, offset) + 1
        column = offset - (text.rfind("\n", 0, offset) + 1) + 1
        diagnostics.error(
            Code.SYNTAX,
            "file contains a NUL byte; it looks like a binary file, not a .space file",
            Span(file, line, column, line, column + 1, offset, offset + 1),
        )
        return ast.Module((), path=file, source=text)
    comments: list[Token] = []
    try:
        tree = _parse(text, comments)
    except UnexpectedInput as exc:
        diagnostics.add(_syntax_error(exc, text, file))
        return ast.Module((), path=file, source=text)
    depth = _depth(tree)
    if depth > MAX_NESTING:
        diagnostics.error(
            Code.TOO_DEEP,
            f"nesting too deep ({depth} levels; the limit is {MAX_NESTING})",
            Span.point(file),
            help="split the expression into named intermediate values",
        )
        return ast.Module((), path=file, source=text)
    to_ast = _ToAst(file, text)
    decls = to_ast.transform(tree).children
    if to_ast.problems:
        diagnostics.extend(to_ast.problems)
        return ast.Module((), path=file, source=text)
    comment_nodes = tuple(ast.Comment(str(tok), span=_token_span(tok, file)) for tok in comments)
    decls = _attach_docs(tuple(decls), comment_nodes)
    return ast.Module(tuple(decls), comment_nodes, path=file, source=text)


def _parse(text: str, comments: list[Token]) -> lark.Tree:
    tree = _lark().parse(text)
    comments.extend(_comments(text))
    return tree


def _comments(text: str) -> list[Token]:
    found = []
    for match in _COMMENT_OR_STRING.finditer(text):
        if match.group().startswith("#"):
            start = match.start()
            line = text.count("\n", 0, start) + 1
            column = start - (text.rfind("\n", 0, start) + 1) + 1
            found.append(
                Token(
                    "COMMENT",
                    match.group(),
                    start,
                    line,
                    column,
                    line,
                    column + len(match.group()),
                    match.end(),
                )
            )
    return found


def _depth(tree: lark.Tree) -> int:
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth > MAX_NESTING:
            return depth
        stack.extend((c, depth + 1) for c in node.children if isinstance(c, lark.Tree))
    return deepest


def _token_span(tok: Token, file: str) -> Span:
    return Span(
        file,
        tok.line or 1,
        tok.column or 1,
        tok.end_line or tok.line or 1,
        tok.end_column or (tok.column or 1) + len(tok),
        tok.start_pos or 0,
        tok.end_pos or 0,
    )


# ---- syntax errors in words -----------------------------------------------------------


def describe_terminal(name: str) -> str:
    if name in _TERMINAL_WORDS:
        return _TERMINAL_WORDS[name]
    for terminal in _lark().terminals:
        if terminal.name == name and terminal.pattern.type == "str":
            return f"`{terminal.pattern.value}`"
    return name.lower()


def _expected_words(expected: set[str]) -> str:
    words = sorted({describe_terminal(t) for t in expected if t != "COMMENT"})
    if not words:
        return "nothing more"
    if len(words) == 1:
        return words[0]
    if len(words) > 8:
        return "one of " + ", ".join(words[:8]) + ", ..."
    return "one of " + ", ".join(words[:-1]) + " or " + words[-1]


def _syntax_error(exc: UnexpectedInput, text: str, file: str):
    from sedsl.diagnostics.diagnostic import Diagnostic, Severity

    line, column = getattr(exc, "line", 1) or 1, getattr(exc, "column", 1) or 1
    offset = getattr(exc, "pos_in_stream", None) or 0
    if isinstance(exc, UnexpectedToken) and exc.token.type != "$END":
        tok = exc.token
        found = f"`{tok}`" if tok.type != "STRING" else "a string"
        span = _token_span(tok, file)
        expected = _expected_words(exc.expected)
        message = f"expected {expected}, found {found}"
        label = f"expected {expected}"
    elif isinstance(exc, UnexpectedCharacters):
        char = text[offset] if offset < len(text) else "?"
        span = Span(file, line, column, line, column + 1, offset, offset + 1)
        message = (
            f"unexpected character `{char}`"
            if char.isprintable()
            else (f"unexpected character U+{ord(char):04X}")
        )
        label = "not part of the language"
        if exc.allowed:
            label = f"expected {_expected_words(set(exc.allowed))}"
    else:  # end of input
        lines = text.split("\n")
        line, column = len(lines), len(lines[-1]) + 1
        span = Span(file, line, column, line, column + 1, len(text), len(text))
        expected = _expected_words(set(getattr(exc, "expected", ()) or ()))
        message = f"unexpected end of file, expected {expected}"
        label = "the file ends here"
    return Diagnostic(Code.SYNTAX, Severity.ERROR, f"syntax error: {message}", span, label=label)


# ---- parse tree -> AST --------------------------------------------------------------


def _attach_docs(decls: tuple, comments: tuple[ast.Comment, ...]) -> tuple:
    """A run of `##` lines directly above a declaration becomes its doc string."""
    doc_lines: dict[int, str] = {
        c.span.line: c.text[2:].strip() for c in comments if c.text.startswith("##")
    }
    result = []
    for decl in decls:
        if not hasattr(decl, "doc") or isinstance(decl, ast.SpaceDecl):
            result.append(decl)
            continue
        lines, line = [], decl.span.line - 1
        while line in doc_lines:
            lines.append(doc_lines[line])
            line -= 1
        if lines:
            decl = _replace(decl, doc="\n".join(reversed(lines)))
        result.append(decl)
    return tuple(result)


def _replace(node, **changes):
    from dataclasses import replace

    return replace(node, **changes)


def _string_value(token: Token) -> str:
    try:
        value = pyast.literal_eval(str(token))
    except (ValueError, SyntaxError):
        return str(token)[1:-1]
    return value if isinstance(value, str) else str(token)[1:-1]


@v_args(meta=True)
class _ToAst(Transformer):
    def __init__(self, file: str, text: str):
        super().__init__(visit_tokens=False)
        self.file = file
        self.text = text
        self.problems: list = []  # diagnostics found while building the tree

    def _span(self, meta) -> Span:
        if getattr(meta, "empty", True):
            return Span.point(self.file)
        return Span(
            self.file,
            meta.line,
            meta.column,
            meta.end_line,
            meta.end_column,
            meta.start_pos,
            meta.end_pos,
        )

    def _tspan(self, tok: Token) -> Span:
        return _token_span(tok, self.file)

    # declarations
    def space_decl(self, meta, children):
        name, doc = children
        return ast.SpaceDecl(str(name), _string_value(doc) if doc else None, span=self._span(meta))

    def import_decl(self, meta, children):
        (tok,) = children
        path = ast.String(_string_value(tok), span=self._tspan(tok))
        return ast.Import(path, span=self._span(meta))

    def param_decl(self, meta, children):
        name, type_, default = children
        type_name = ast.Name(str(type_), span=self._tspan(type_))
        return ast.Param(str(name), type_name, default, span=self._span(meta))

    def dim_decl(self, meta, children):
        name, default = children
        return ast.DimDecl(str(name), default, span=self._span(meta))

    def op_decl(self, meta, children):
        name, params, result, (body, returns, one_line) = children
        return ast.OpDef(
            str(name), params, result, body, returns, one_line=one_line, span=self._span(meta)
        )

    def extern_decl(self, meta, children):
        name, params, result, tok, call = children
        target = ast.String(_string_value(tok), span=self._tspan(tok))
        args, kwargs = call if call is not None else ((), ())
        extern = ast.Extern(target, args, kwargs, span=self._span(meta))
        return ast.OpDef(
            str(name), params, result, (), target, extern=extern, span=self._span(meta)
        )

    def extern_args(self, meta, children):
        (args,) = children
        positional = tuple(a for a in args or () if not isinstance(a, ast.Keyword))
        return positional, tuple(a for a in args or () if isinstance(a, ast.Keyword))

    def op_params(self, meta, children):
        return tuple(children)

    def tensor_param(self, meta, children):
        name, shape = children
        return ast.TensorParam(str(name), shape, span=self._span(meta))

    def scalar_param(self, meta, children):
        name, type_, *default = children
        return ast.ScalarParam(
            str(name),
            ast.Name(str(type_), span=self._tspan(type_)),
            default[0] if default else None,
            span=self._span(meta),
        )

    def expr_body(self, meta, children):
        return ((), children[0], True)

    def block_body(self, meta, children):
        *body, returns = children
        return (tuple(body), returns, False)

    def opset_decl(self, meta, children):
        name, input_, result, candidates = children
        return ast.OpSet(str(name), input_, result, candidates, span=self._span(meta))

    def candidates(self, meta, children):
        return tuple(children)

    def candidate(self, meta, children):
        label, op, kwargs = children
        return ast.Candidate(
            str(label) if label is not None else None,
            ast.Name(str(op), span=self._tspan(op)),
            kwargs or (),
            span=self._span(meta),
        )

    def block_decl(self, meta, children):
        name, input_, result, *body, returns = children
        return ast.Block(str(name), input_, result, tuple(body), returns, span=self._span(meta))

    def require_decl(self, meta, children):
        return ast.Require(children[0], span=self._span(meta))

    def check_decl(self, meta, children):
        name, *rest = children
        dims = tuple(ast.Name(str(t), span=self._tspan(t)) for t in rest if isinstance(t, Token))
        points = tuple(c for c in rest if isinstance(c, tuple))
        return ast.Check(str(name), dims, points, span=self._span(meta))

    def point(self, meta, children):
        return tuple(children)

    def genotype_decl(self, meta, children):
        name, *choices = children
        return ast.Genotype(
            str(name), tuple(c for c in choices if c is not None), span=self._span(meta)
        )

    def choice(self, meta, children):
        target, candidate = children
        return ast.Choice(target, candidate, span=self._span(meta))

    def recipe_decl(self, meta, children):
        return ast.Recipe(tuple(c for c in children if c is not None), span=self._span(meta))

    def setting(self, meta, children):
        name, value = children
        return ast.Setting(str(name), value, span=self._span(meta))

    def shape(self, meta, children):
        return ast.ShapeAnn(tuple(children), span=self._span(meta))

    # statements
    def assign(self, meta, children):
        target, value = children
        return ast.Assign(target, value, span=self._span(meta))

    def target(self, meta, children):
        name, *indices = children
        return ast.Target(str(name), tuple(indices), span=self._span(meta))

    def for_stmt(self, meta, children):
        var, range_, *body = children
        return ast.For(str(var), range_, tuple(body), span=self._span(meta))

    def shared_stmt(self, meta, children):
        name, op, kwargs = children
        return ast.Shared(
            str(name), ast.Name(str(op), span=self._tspan(op)), kwargs or (), span=self._span(meta)
        )

    def range(self, meta, children):
        start, stop = children
        return ast.Range(start, stop, span=self._span(meta))

    # expressions
    def _binary(op):  # noqa: N805 - a factory used in the class body
        def build(self, meta, children):
            left, right = children
            return ast.Binary(op, left, right, span=self._span(meta))

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

    def not_(self, meta, children):
        return ast.Unary("not", children[0], span=self._span(meta))

    def neg(self, meta, children):
        return ast.Unary("-", children[0], span=self._span(meta))

    def call(self, meta, children):
        func, args = children
        if not isinstance(func, ast.Name):
            func = ast.Name("<expression>", span=func.span)
        positional, keywords = [], []
        for arg in args or ():
            (keywords if isinstance(arg, ast.Keyword) else positional).append(arg)
        return ast.Call(func, tuple(positional), tuple(keywords), span=self._span(meta))

    def args(self, meta, children):
        return tuple(children)

    def kwargs(self, meta, children):
        return tuple(children)

    def kwarg(self, meta, children):
        name, value = children
        return ast.Keyword(str(name), value, span=self._span(meta))

    def generator(self, meta, children):
        element, var, range_ = children
        return ast.Generator(element, str(var), range_, span=self._span(meta))

    def index(self, meta, children):
        value, *indices = children
        return ast.Index(value, tuple(indices), span=self._span(meta))

    def number(self, meta, children):
        (tok,) = children
        text = str(tok)
        try:
            value = int(text) if text.isdigit() else float(text)
        except ValueError:  # more digits than Python converts (4300)
            from sedsl.diagnostics.diagnostic import Diagnostic, Severity

            self.problems.append(
                Diagnostic(
                    Code.SYNTAX,
                    Severity.ERROR,
                    f"number with {len(text):,} digits is too long",
                    self._tspan(tok),
                    label="too long",
                )
            )
            value = 0
        return ast.Number(value, span=self._tspan(tok))

    def string(self, meta, children):
        (tok,) = children
        return ast.String(_string_value(tok), span=self._tspan(tok))

    def name(self, meta, children):
        (tok,) = children
        return ast.Name(str(tok), span=self._tspan(tok))

    def true(self, meta, children):
        return ast.Bool(True, span=self._span(meta))

    def false(self, meta, children):
        return ast.Bool(False, span=self._span(meta))
