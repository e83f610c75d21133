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
from operator import itemgetter

from sedsl import GRAMMAR_PATH
from sedsl.language import ast
from sedsl.language.build import MAX_NESTING, RULES, AstBuilder, Tok
from sedsl.language.comments import attach_docs, comments

TABLES_PATH = GRAMMAR_PATH.with_name("space.lalr.json")


class _Decline(Exception):
    """Lark must decide: an error, or a case this parser does not reproduce."""


class _Tables:
    def __init__(self, data: dict):
        ignored = set(data["IGNORE"])
        tokens = "|".join(f"(?P<{n}>{r})" for n, r in data["TERMINALS"] if n not in ignored)
        skip = "(?:" + "|".join(r for n, r in data["TERMINALS"] if n in ignored) + ")*"
        # Lark's root lexer: the first alternative that matches wins; keywords lex as NAME.
        # One match also skips the whitespace and comments before the token (no terminal
        # Lark keeps starts like one); the lookahead makes the skip atomic, so a token that
        # fails to match never backtracks into a comment to find a token inside it
        self.scanner = re.compile(f"(?=(?P<_skip>{skip}))(?P=_skip)(?:{tokens})")
        self.skip = re.compile(skip)  # what may follow the last token
        self.keywords: dict[str, str] = data["KEYWORDS"]
        self.start: int = data["START"]
        self.end: int = data["END"]
        self.states: list[dict[str, int]] = data["STATES"]
        self.rules = [_plan(*rule) for rule in data["RULES"]]
        # `?rule: one_symbol` (most reductions: `expr` down to `atom`) leaves its child,
        # its span and its depth as they are: only the state changes
        self.unit = [
            size == 1 and expand1 and include is None
            for _, _, size, expand1, include, _ in data["RULES"]
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


def _plan(origin, name, size, expand1, include, append):
    """How a reduction shapes its children, worked out once per rule. `single`: a rule
    of one child that the builder gets as it is (`name`, `number`), so the reduction
    pops nothing; `pick`: one that hands the builder some of its children (`call`,
    `kwarg`), as a tuple instead of a list."""
    method = RULES.get(name)  # none: an inlined rule's list, or `start`'s
    inlined = name.startswith("_")
    single = size == 1 and include is None and not expand1 and method is not None
    pick = None
    picks = method is not None and not expand1 and include and not append
    if picks and all(not splice and not nones for _, splice, nones in include):
        pick = itemgetter(*(i for i, _, _ in include))
        if len(include) == 1:
            one = pick
            pick = lambda kids: (one(kids),)  # noqa: E731
    return (origin, name, size, expand1, include, append, inlined, method, single, pick)


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


def load_tables() -> None:
    """Read and compile the tables now (a process about to fork workers shares them)."""
    _tables()


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
    match, skip, keywords = tables.scanner.match, tables.skip.match, tables.keywords
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
        m = match(text, pos)
        if m is not None:
            kind = m.lastgroup
            start, end = m.span(kind)
            if start != pos:  # whitespace and comments skipped
                newlines = text.count("\n", pos, start)
                if newlines:
                    line += newlines
                    line_start = text.rindex("\n", pos, start) + 1
            value = text[start:end]
            if "\n" in value:
                raise _Decline
            column = start - line_start + 1
            tok = new_tuple(Tok, (value, line, column, line, column + end - start, start, end))
            pos = end
            # the contextual lexer: a keyword where the state does not expect it is a NAME
            if kind == "NAME":
                keyword = keywords.get(value)
                if keyword is not None and keyword in states[stack[-1]]:
                    kind = keyword
        elif skip(text, pos).end() == size_of_text:
            kind, tok = "$END", None
        else:
            raise _Decline
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
            origin, _, size, expand1, include, append, inlined, method, single, pick = rules[rule]
            if single:  # one child, handed over as it is: the node takes its container
                values[-1] = method(build, conts[-1], [values[-1]])
                depths[-1] += 1
                stack[-1] = states[stack[-2]][origin]
                continue  # `start` is not one either
            if size:
                kids, depth = values[-size:], max(depths[-size:])
                first, last = conts[-size], conts[-1]
                if first is None or last is None:  # skip children that cover no text
                    covered = [c for c in conts[-size:] if c is not None] or [None]
                    first, last = covered[0], covered[-1]
                if expand1:  # the container of the child a `?rule` may stand for
                    lone = conts[len(conts) - size + (include[0][0] if include else 0)]
                del stack[-size:], values[-size:], conts[-size:], depths[-size:]
            else:
                kids, depth, first = [], 0, None
            if first is None:
                cont = None
            else:
                cont = (None, first[1], first[2], last[3], last[4], first[5], last[6])
            if pick is not None:
                children = pick(kids)
            elif include is None:
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
                elif lone is None:
                    raise _Decline  # Lark would give it a span after the fact
            else:
                if not inlined:
                    depth += 1
                node = children if method is None else method(build, cont, children)
            push_state(states[stack[-1]][origin])
            push_value(node)
            push_cont(cont)
            push_depth(depth)
            if kind == "$END" and stack[-1] == end_state:
                if depth > MAX_NESTING:
                    raise _Decline  # Lark's path reports it
                return values[-1]
