"""A fast parser for .space files that builds the AST during the parse, without lark.

It runs Lark's own LALR table (grammars/space.lalr.json, written by tablegen.py from the
grammar) with a one-regex lexer, and at each reduction shapes the children as Lark's tree
builder would and hands them to build.AstBuilder. Spans follow Lark's propagate_positions
rule: a node spans from the start of its first child's container to the end of its last
one's, where a container also counts the punctuation the tree drops and the extent of
inlined `?rule`s (the parentheses around `(a + b)` belong to the enclosing node's span).

Its promise, which tests/language/test_fastparse.py checks: for any text it either returns
exactly the Module that grammar.parse_source returns, every span included, or declines
(returns None) and the caller asks Lark. It declines on any lex or parse error, on a
number too long to convert, on nesting deeper than MAX_NESTING, and when the tables do not
match the grammar; so every diagnostic still comes from Lark.
"""

from __future__ import annotations

import hashlib
import json
import re
from functools import lru_cache

from sedsl import GRAMMAR_PATH
from sedsl.language import ast
from sedsl.language.build import MAX_NESTING, RULES, AstBuilder, Tok
from sedsl.language.comments import attach_docs, comments

TABLES_PATH = GRAMMAR_PATH.with_name("space.lalr.json")


class _Decline(Exception):
    """Lark must decide: an error, or a case this parser does not reproduce."""


class _Tables:
    def __init__(self, data: dict):
        # Lark's root lexer: the first alternative that matches wins; keywords lex as NAME
        self.scanner = re.compile("|".join(f"(?P<{n}>{r})" for n, r in data["TERMINALS"]))
        self.keywords: dict[str, str] = data["KEYWORDS"]
        self.ignore = frozenset(data["IGNORE"])
        self.start: int = data["START"]
        self.end: int = data["END"]
        self.states: list[dict[str, int]] = data["STATES"]
        self.rules = [
            (origin, name, size, expand1, include, append, name.startswith("_"))
            for origin, name, size, expand1, include, append in data["RULES"]
        ]
        # `?rule: one_symbol` (most reductions: `expr` down to `atom`) leaves its child,
        # its span and its depth as they are: only the state changes
        self.unit = [
            size == 1 and expand1 and include is None
            for _, _, size, expand1, include, _, _ in self.rules
        ]
        # (state below, state on top, lookahead) -> the top state after the whole run of
        # unit reductions, which depends on nothing else; filled as parses meet them
        self.chains: dict[tuple[int, int, str], int] = {}

    def chain(self, below: int, top: int, kind: str) -> int:
        states, rules, unit = self.states, self.rules, self.unit
        state = top
        while True:
            action = states[state].get(kind)
            if action is None or action >= 0 or not unit[~action]:
                break
            state = states[below][rules[~action][0]]
        self.chains[below, top, kind] = state
        return state


@lru_cache(maxsize=1)
def _tables() -> _Tables | None:
    try:
        data = json.loads(TABLES_PATH.read_text(encoding="utf-8"))
        grammar = hashlib.sha256(GRAMMAR_PATH.read_bytes()).hexdigest()
    except (OSError, ValueError):
        return None
    if data.get("GRAMMAR_SHA256") != grammar:  # stale: run `python -m sedsl.language.tablegen`
        return None
    return _Tables(data)


def parse(text: str, file: str) -> ast.Module | None:
    """The Module of a text that parses cleanly, or None where Lark must decide."""
    tables = _tables()
    if tables is None:
        return None
    build = AstBuilder(file)
    try:
        decls = _run(tables, build, text)
    except _Decline:
        return None
    if build.problems:
        return None
    comment_nodes = comments(text, file)
    decls = attach_docs(tuple(decls), comment_nodes)
    return ast.Module(decls, comment_nodes, path=file, source=text)


def _run(tables: _Tables, build: AstBuilder, text: str) -> list:
    """The LALR loop of lark.parsers.lalr_parser_state, with Lark's tree shaping inlined.

    Three stacks run beside the states: values (AST nodes, Toks, lists of an inlined
    rule's children), containers ((_, line, column, end_line, end_column, start, end);
    a Tok is its own; None for a node with no position) and tree depths."""
    match, keywords, ignore = tables.scanner.match, tables.keywords, tables.ignore
    states, rules, unit, end_state = tables.states, tables.rules, tables.unit, tables.end
    chains, new_tuple = tables.chains, tuple.__new__
    stack, values, conts, depths = [tables.start], [], [], []
    push_state, push_value, push_cont, push_depth = (
        stack.append,
        values.append,
        conts.append,
        depths.append,
    )
    pos, line, line_start, size_of_text = 0, 1, 0, len(text)
    while True:
        if pos < size_of_text:
            m = match(text, pos)
            if m is None:
                raise _Decline
            kind, value, end = m.lastgroup, m.group(), m.end()
            if kind in ignore:
                newlines = value.count("\n")
                if newlines:
                    line += newlines
                    line_start = pos + value.rindex("\n") + 1
                pos = end
                continue
            if "\n" in value:
                raise _Decline
            column = pos - line_start + 1
            tok = new_tuple(Tok, (value, line, column, line, column + end - pos, pos, end))
            pos = end
            # the contextual lexer: a keyword where the state does not expect it is a NAME
            if kind == "NAME":
                keyword = keywords.get(value)
                if keyword is not None and keyword in states[stack[-1]]:
                    kind = keyword
        else:
            kind, tok = "$END", None
        while True:
            action = states[stack[-1]].get(kind)
            if action is None:
                raise _Decline
            if action >= 0:  # shift
                if tok is None:
                    raise _Decline
                push_state(action)
                push_value(tok)
                push_cont(tok)
                push_depth(0)
                break
            rule = ~action
            if unit[rule]:  # `start` is not one, so the end state is not reached here
                below, top = stack[-2], stack[-1]
                stack[-1] = chains.get((below, top, kind)) or tables.chain(below, top, kind)
                continue
            origin, name, size, expand1, include, append, inlined = rules[rule]
            if size:
                kids, kconts, depth = values[-size:], conts[-size:], max(depths[-size:])
                del stack[-size:], values[-size:], conts[-size:], depths[-size:]
                first, last = kconts[0], kconts[-1]
                if first is None or last is None:  # skip children that cover no text
                    covered = [c for c in kconts if c is not None] or [None]
                    first, last = covered[0], covered[-1]
            else:
                kids, kconts, depth, first = [], [], 0, None
            if first is None:
                cont = None
            else:
                cont = (None, first[1], first[2], last[3], last[4], first[5], last[6])
            if include is None:
                children = kids
            else:
                children = []
                for i, splice, nones in include:
                    if nones:
                        children += [None] * nones
                    if splice:  # reuse the list, as Lark does: long repetitions stay linear
                        if children:
                            children += kids[i]
                        else:
                            children = kids[i]
                    else:
                        children.append(kids[i])
                if append:
                    children += [None] * append
            if expand1 and len(children) == 1:  # `?rule` with one child: the child itself
                node = children[0]
                if node is None:
                    cont = None
                elif kconts[include[0][0] if include else 0] is None:
                    raise _Decline  # Lark would give it a span after the fact
            else:
                if not inlined:
                    depth += 1
                method = RULES.get(name)  # none: an inlined rule's list, or `start`'s
                node = children if method is None else method(build, cont, children)
            push_state(states[stack[-1]][origin])
            push_value(node)
            push_cont(cont)
            push_depth(depth)
            if kind == "$END" and stack[-1] == end_state:
                if depth > MAX_NESTING:
                    raise _Decline  # Lark's path reports it
                return values[-1]
