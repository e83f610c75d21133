"""The comments of a source text, and the doc strings they give declarations: the parsers
skip comments, so both parsers collect them here from the text."""

from __future__ import annotations

import re
from dataclasses import replace

from sedsl.diagnostics.span import Span
from sedsl.language import ast

# Comments and strings are the only tokens that can hold `#`, so this finds exactly the
# comments the lexer skips. (A lexer callback would do the same at twice the parse time.)
_COMMENT_OR_STRING = re.compile(r'"(?:[^"\\\n]|\\.)*"|#[^\n]*')


def comments(text: str, file: str) -> tuple[ast.Comment, ...]:
    found = []
    for match in _COMMENT_OR_STRING.finditer(text):
        body = match.group()
        if body.startswith("#"):
            start = match.start()
            line = text.count("\n", 0, start) + 1
            column = start - (text.rfind("\n", 0, start) + 1) + 1
            span = Span(file, line, column, line, column + len(body), start, match.end())
            found.append(ast.Comment(body, span=span))
    return tuple(found)


def attach_docs(decls: tuple, comments: tuple[ast.Comment, ...]) -> tuple:
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
            decl = replace(decl, doc="\n".join(reversed(lines)))
        result.append(decl)
    return tuple(result)
