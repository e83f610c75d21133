"""The TextMate grammar (grammars/space.tmLanguage.json) against the Lark grammar
(grammars/space.lark): the same keywords, the same numbers, strings and comments, and every
token of every shipped space classified as Lark lexes it. The patterns are run by a small
TextMate-style scanner written here (earliest match wins, ties go to the first pattern,
begin/end rules nest across lines), with Python's `re`, whose syntax the grammar keeps to."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import lark
import pytest

ROOT = Path(__file__).resolve().parents[2]
TM_PATH = ROOT / "grammars" / "space.tmLanguage.json"
LARK_PATH = ROOT / "grammars" / "space.lark"
SPACES = sorted((ROOT / "spaces").rglob("*.space"))
WORD = re.compile(r"[^\W\d]\w*")
KEYWORD_SCOPES = (
    "keyword.declaration",
    "keyword.control",
    "keyword.other",
    "keyword.operator.logical",
)


# ---- a TextMate-style scanner ----------------------------------------------------------


@dataclass
class Rule:
    name: str | None
    match: re.Pattern | None = None
    begin: re.Pattern | None = None
    end: re.Pattern | None = None
    captures: dict | None = None
    begin_captures: dict | None = None
    end_captures: dict | None = None
    patterns: list[Rule] | None = None


class Scanner:
    def __init__(self, grammar: dict):
        self.grammar = grammar
        self.repository: dict[str, list[Rule]] = {}
        self.top = self._rules(grammar["patterns"])

    def _rules(self, patterns: list[dict]) -> list[Rule]:
        rules: list[Rule] = []
        for p in patterns:
            if "include" in p:
                rules.extend(self._include(p["include"]))
            else:
                rules.append(self._rule(p))
        return rules

    def _include(self, ref: str) -> list[Rule]:
        assert ref.startswith("#"), ref
        key = ref[1:]
        if key not in self.repository:
            entry = self.grammar["repository"][key]
            self.repository[key] = []  # recursion guard
            if set(entry) <= {"patterns", "comment"}:
                self.repository[key] = self._rules(entry["patterns"])
            else:
                self.repository[key] = [self._rule(entry)]
        return self.repository[key]

    def _rule(self, p: dict) -> Rule:
        compile_ = re.compile
        if "match" in p:
            return Rule(p.get("name"), match=compile_(p["match"]), captures=p.get("captures"))
        return Rule(
            p.get("name"),
            begin=compile_(p["begin"]),
            end=compile_(p["end"]),
            begin_captures=p.get("beginCaptures", p.get("captures")),
            end_captures=p.get("endCaptures", p.get("captures")),
            patterns=self._rules(p.get("patterns", [])),
        )

    def tokenize(self, text: str) -> list[list[tuple[str, ...]]]:
        """Per line, the scope stack of every character."""
        stack: list[Rule] = []
        result = []
        for line in text.split("\n"):
            scopes: list[tuple[str, ...]] = [()] * len(line)
            pos = 0
            while pos <= len(line):
                base = tuple(r.name for r in stack if r.name)
                rules = stack[-1].patterns if stack else self.top
                best = None  # (start, order, kind, rule, match)
                if stack:
                    m = stack[-1].end.search(line, pos)
                    if m:
                        best = (m.start(), -1, "end", stack[-1], m)
                for order, rule in enumerate(rules):
                    m = (rule.match or rule.begin).search(line, pos)
                    if m and (best is None or m.start() < best[0]):
                        best = (m.start(), order, "match" if rule.match else "begin", rule, m)
                stop = len(line) if best is None else best[0]
                for i in range(pos, stop):
                    scopes[i] = base  # text no pattern matches takes the enclosing scopes
                if best is None:
                    break
                _, _, kind, rule, m = best
                if kind == "end":
                    self._paint(scopes, m, base, None, rule.end_captures)
                    stack.pop()
                elif kind == "match":
                    self._paint(scopes, m, base, rule.name, rule.captures)
                else:
                    self._paint(scopes, m, base, rule.name, rule.begin_captures)
                    stack.append(rule)
                if m.end() == pos and kind == "match":
                    pos += 1  # an empty match: step on, as TextMate does
                else:
                    pos = m.end()
                if kind != "match" and m.end() == m.start() and pos >= len(line):
                    break
            result.append(scopes)
        return result

    @staticmethod
    def _paint(scopes, m: re.Match, base, name, captures) -> None:
        outer = base + ((name,) if name else ())
        for i in range(m.start(), m.end()):
            scopes[i] = outer
        for group, capture in (captures or {}).items():
            start, end = m.span(int(group))
            for i in range(max(start, 0), end):
                scopes[i] = outer + (capture["name"],)


def _scope(scopes: tuple[str, ...]) -> str:
    return scopes[-1] if scopes else ""


# ---- fixtures -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def grammar() -> dict:
    return json.loads(TM_PATH.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def scanner(grammar) -> Scanner:
    return Scanner(grammar)


@pytest.fixture(scope="module")
def lark_parser() -> lark.Lark:
    return lark.Lark(LARK_PATH.read_text(encoding="utf-8"), parser="lalr")


def _lark_literals(parser: lark.Lark) -> dict[str, str]:
    """The string terminals of the Lark grammar: keywords and punctuation, by value."""
    return {
        t.pattern.value: t.name
        for t in parser.terminals
        if isinstance(t.pattern, lark.lexer.PatternStr)
    }


def _lark_keywords(parser: lark.Lark) -> set[str]:
    return {v for v in _lark_literals(parser) if WORD.fullmatch(v)}


def _tm_keywords(grammar: dict) -> set[str]:
    words = set()
    for p in grammar["repository"]["keyword"]["patterns"]:
        (alternatives,) = re.findall(r"\\b\(\?:([\w|]+)\)\\b", p["match"])
        words |= set(alternatives.split("|"))
    return words


# ---- tests -----------------------------------------------------------------------


def test_every_pattern_compiles_with_python_re(grammar):
    count = 0

    def walk(node):
        nonlocal count
        if isinstance(node, dict):
            for key in ("match", "begin", "end"):
                if key in node:
                    re.compile(node[key])
                    count += 1
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(grammar)
    assert count > 20
    assert grammar["scopeName"] == "source.space" and grammar["fileTypes"] == ["space"]


def test_keywords_are_the_lark_grammars(grammar, lark_parser):
    lark_words = _lark_keywords(lark_parser)
    assert {"space", "opset", "genotype", "return", "true"} <= lark_words
    assert _tm_keywords(grammar) == lark_words


def test_each_lark_keyword_alone_is_scoped_a_keyword(scanner, lark_parser):
    for word in sorted(_lark_keywords(lark_parser)):
        (line,) = scanner.tokenize(word)
        scope = _scope(line[0])
        assert scope.startswith(KEYWORD_SCOPES) or scope.startswith("constant.language"), (
            word,
            scope,
        )
    for word in ("spaces", "opsets", "myop", "blocks", "trueish", "order", "in_"):
        (line,) = scanner.tokenize(word)
        assert not _scope(line[0]).startswith(KEYWORD_SCOPES), word


def test_every_lark_punctuation_and_operator_is_scoped(scanner, lark_parser):
    for value in sorted(v for v in _lark_literals(lark_parser) if not WORD.fullmatch(v)):
        (line,) = scanner.tokenize(f"a {value} b")
        scope = _scope(line[2])
        assert scope.startswith(("keyword.operator", "punctuation")), (value, scope)


@pytest.mark.parametrize(
    ("terminal", "tm_key", "samples"),
    [
        ("NUMBER", "number", ["0", "16", "0.025", "1e-4", "2.5E+3", "1.", ".5", "1e", "x1"]),
        ("STRING", "string", ['"a"', '"sedsl:attention"', r'"a \"b\" c"', '"', '"a', "'a'"]),
    ],
)
def test_token_regexes_agree_with_lark(grammar, lark_parser, terminal, tm_key, samples):
    (lark_terminal,) = [t for t in lark_parser.terminals if t.name == terminal]
    ours = grammar["repository"][tm_key]
    scanner = Scanner(grammar)
    for sample in samples:
        by_lark = re.fullmatch(lark_terminal.pattern.to_regexp(), sample) is not None
        if "match" in ours:
            by_tm = re.fullmatch(ours["match"], sample) is not None
        else:  # a begin/end rule: the sample, and no more, is one region of its scope
            (line,) = scanner.tokenize(sample + " x")
            inside = [ours["name"] in s for s in line]
            by_tm = inside == [True] * len(sample) + [False, False]
        assert by_lark == by_tm, (terminal, sample, by_lark, by_tm)


SAMPLES = [
    # (line, the text to look at, the scope it must have)
    ("# a comment", "a comment", "comment.line.number-sign.space"),
    ("## the doc comment of the op below", "doc", "comment.line.double-number-sign"),
    ('space sase "Search space"', "sase", "entity.name.namespace.space"),
    ('space sase "Search space"', "Search", "string.quoted.double.space"),
    ('import "sedsl:attention"', "import", "keyword.declaration"),
    ('import "sedsl:attention"', "sedsl:", "support.constant.library.space"),
    ('import "lib/attention.space"', "lib/", "string.quoted.double.space"),
    ('x = f(s="a\\"b")', '\\"', "constant.character.escape.space"),
    ("param reduction: int = 16", "reduction", "variable.other.constant.param.space"),
    ("param reduction: int = 16", "int", "support.type.primitive.space"),
    ("param reduction: int = 16", "16", "constant.numeric.space"),
    ("param lr: float = 2.5e-3", "2.5e-3", "constant.numeric.space"),
    ("dim Cin = C", "Cin", "variable.other.constant.dim.space"),
    ("op gap(x: [B, C, H, W]) -> [B, C, 1, 1] = avg_pool(x)", "gap", "entity.name.function.op"),
    ("op gap(x: [B, C, H, W]) -> [B, C, 1, 1] = avg_pool(x)", "H", "variable.other.constant.dim"),
    ("op gap(x: [B, C, H, W]) -> [B, C, 1, 1] = avg_pool(x)", "avg_pool", "function.call"),
    ("op gap(x: [B, C, H, W]) -> [B, C, 1, 1] = avg_pool(x)", "1, 1]", "constant.numeric"),
    ("op gap(x: [B, C, H, W]) -> [B, C, 1, 1] = avg_pool(x)", "->", "keyword.operator"),
    ("opset squeeze(x: [B, C, H, W]) -> [B, C, 1, 1] {", "squeeze", "entity.name.type.opset"),
    ("block sase(x: [B, C, H, W]) -> [B, C, H // 2, W] {", "sase", "entity.name.class.block"),
    ("block sase(x: [B, C, H, W]) -> [B, C, H // 2, W] {", "//", "keyword.operator.arithmetic"),
    ("  for k in 0..K {", "for", "keyword.control.space"),
    ("  for k in 0..K {", "..", "keyword.operator.range.space"),
    ("  shared mlp = fc(reduction=4)", "mlp", "variable.other.shared.space"),
    ("  return x * sigmoid(s)", "return", "keyword.control.space"),
    ("  y = f(x, bias=true)", "true", "constant.language.boolean.space"),
    ("require C // reduction >= 1 and not false", "and", "keyword.operator.logical.space"),
    ("check resnet20 (C, H, W) in [(16, 32, 32)]", "resnet20", "entity.name.section.check"),
    ("check resnet20 (C, H, W) in [(16, 32, 32)]", "W", "variable.other.constant.dim.space"),
    ("check resnet20 (C, H, W) in [(16, 32, 32)]", "32)]", "constant.numeric.space"),
    ("genotype se { y = se }", "se {", "entity.name.section.genotype.space"),
]


@pytest.mark.parametrize(("line", "text", "scope"), SAMPLES)
def test_sample_lines_are_classified(scanner, line, text, scope):
    (scopes,) = scanner.tokenize(line)
    at = line.index(text)
    assert scope in _scope(scopes[at]) or any(scope in s for s in scopes[at][-1:]), (
        line,
        text,
        scopes[at],
    )


def test_a_shape_spanning_lines_keeps_its_dims(scanner):
    lines = scanner.tokenize("op f(\n  x: [B,\n  C, H, W],\n) -> [B, C, 1, 1] = x")
    assert _scope(lines[2][2]) == "variable.other.constant.dim.space"  # C
    assert _scope(lines[3][0]) == "punctuation.section.parens.space"  # the shape closed


@pytest.mark.parametrize("path", SPACES, ids=lambda p: p.name)
def test_every_token_of_a_shipped_space_is_classified_as_lark_lexes_it(scanner, lark_parser, path):
    text = path.read_text(encoding="utf-8")
    lines = scanner.tokenize(text)
    keywords = _lark_keywords(lark_parser)
    starts = [0]
    for line in text.split("\n"):
        starts.append(starts[-1] + len(line) + 1)
    checked = 0
    for token in lark_parser.lex(text, dont_ignore=True):
        if token.type == "WS":
            continue
        scope = _scope(lines[token.line - 1][token.column - 1])
        kind = token.type
        if kind == "COMMENT":
            want = "documentation" if token.value.startswith("##") else "comment.line"
            assert want in scope, (token, scope)
        elif kind == "NUMBER":
            assert scope == "constant.numeric.space", (token, scope)
        elif kind == "STRING":
            assert scope == "string.quoted.double.space", (token, scope)
        elif token.value in keywords:
            assert scope.startswith(KEYWORD_SCOPES + ("constant.language",)), (token, scope)
        elif kind == "NAME":
            bad = ("keyword", "comment", "string", "constant.numeric", "punctuation")
            assert not scope.startswith(bad), (token, scope)
        else:
            assert scope.startswith(("keyword.operator", "punctuation")), (token, scope)
        checked += 1
    assert checked > 20


def test_the_vscode_extension_folder_names_this_grammar(grammar):
    folder = ROOT / "editors" / "vscode"
    manifest = json.loads((folder / "package.json").read_text(encoding="utf-8"))
    (language,) = manifest["contributes"]["languages"]
    (contributed,) = manifest["contributes"]["grammars"]
    assert language["id"] == contributed["language"] == "space"
    assert language["extensions"] == [f".{ext}" for ext in grammar["fileTypes"]]
    assert contributed["scopeName"] == grammar["scopeName"]
    assert Path(contributed["path"]).name == TM_PATH.name
    config = json.loads((folder / Path(language["configuration"])).read_text(encoding="utf-8"))
    assert config["comments"]["lineComment"] == "#"
    # docs/editor.md copies exactly these files and names the language id the client needs
    doc = (ROOT / "docs" / "editor.md").read_text(encoding="utf-8")
    ext = f"{manifest['publisher']}.{manifest['name']}-{manifest['version']}"
    assert f"~/.vscode/extensions/{ext}" in doc
    for name in ("package.json", Path(language["configuration"]).name):
        assert f"editors/vscode/{name}" in doc
    assert f"grammars/{TM_PATH.name}" in doc
    assert '"glspc.server.languageId": ["space"]' in doc
    assert '"glspc.server.commandArguments": ["lsp"]' in doc
