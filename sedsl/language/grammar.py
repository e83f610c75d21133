"""The Lark front end, the reference parser: LALR with propagate_positions builds the tree,
a Transformer hands each node to build.AstBuilder for a frozen AST node with its span, and
syntax errors become diagnostics that name the expected tokens in words. Imported only
when the parse cache misses and the fast parser (fastparse.py) declines (see parser.py)."""

from __future__ import annotations

import re
from functools import lru_cache

import lark
from lark import Token, Transformer
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from sedsl import GRAMMAR_PATH
from sedsl.diagnostics.codes import Code
from sedsl.diagnostics.diagnostic import Diagnostics
from sedsl.diagnostics.span import Span
from sedsl.language import ast
from sedsl.language.build import MAX_NESTING, RULES, AstBuilder, Tok
from sedsl.language.comments import attach_docs, comments

_TERMINAL_WORDS = {
    "NAME": "a name",
    "NUMBER": "a number",
    "STRING": "a string",
    "$END": "end of file",
}


@lru_cache(maxsize=2)
def _lark(cache: bool = True) -> lark.Lark:
    # cache=True stores the compiled LALR tables in the temp dir: a warm start skips
    # grammar analysis, which keeps `sedsl check` fast. tablegen builds without it, so the
    # table it writes comes from the grammar itself.
    return lark.Lark(
        GRAMMAR_PATH.read_text(encoding="utf-8"),
        parser="lalr",
        propagate_positions=True,
        maybe_placeholders=True,
        cache=cache,
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
    try:
        tree = _lark().parse(text)
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
    to_ast = _ToAst(file)
    decls = to_ast.transform(tree).children
    if to_ast.build.problems:
        diagnostics.extend(to_ast.build.problems)
        return ast.Module((), path=file, source=text)
    comment_nodes = comments(text, file)
    decls = attach_docs(tuple(decls), comment_nodes)
    return ast.Module(tuple(decls), comment_nodes, path=file, source=text)


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
    hint = None
    if isinstance(exc, UnexpectedToken) and exc.token.type != "$END":
        tok = exc.token
        found = f"`{tok}`" if tok.type != "STRING" else "a string"
        span = _token_span(tok, file)
        expected = _expected_words(exc.expected)
        message = f"expected {expected}, found {found}"
        label = f"expected {expected}"
        if tok == "(" and expected == "`=`" and _in_opset(text, tok.start_pos or 0):
            # `k7 = sigmoid(bn(conv2d(x)))`: a call where a keyword argument must be
            hint = "a candidate is an op with keyword parameters; define an `op` for an expression"
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
    return Diagnostic(
        Code.SYNTAX, Severity.ERROR, f"syntax error: {message}", span, label=label, help=hint
    )


_DECL_START = re.compile(r"^\s*(opset|op|block|genotype|extern|param|check|require)\b", re.M)


def _in_opset(text: str, offset: int) -> bool:
    """Whether `offset` is inside an `opset` declaration (the last one started before it)."""
    starts = _DECL_START.findall(text, 0, offset)
    return bool(starts) and starts[-1] == "opset"


# ---- parse tree -> AST --------------------------------------------------------------


class _ToAst(Transformer):
    """Each tree, bottom up, to the builder's method of its name, with its span."""

    def __init__(self, file: str):
        super().__init__(visit_tokens=False)
        self.build = AstBuilder(file)

    def __default__(self, data, children, meta):
        method = RULES.get(data)
        if method is None:  # `start`: its children are the declarations
            return lark.Tree(data, children, meta)
        children = [_tok(c) if isinstance(c, Token) else c for c in children]
        if getattr(meta, "empty", True):
            return method(self.build, None, children)
        at = (None, meta.line, meta.column, meta.end_line, meta.end_column)
        return method(self.build, (*at, meta.start_pos, meta.end_pos), children)


def _tok(tok: Token) -> Tok:
    span = _token_span(tok, "")
    return Tok(
        str(tok), span.line, span.column, span.end_line, span.end_column, span.start, span.end
    )
