"""`sedsl fmt`: parse(fmt(text)) == parse(text), idempotent, every comment kept."""

from __future__ import annotations

import keyword

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sedsl.diagnostics.diagnostic import Diagnostics
from sedsl.language import ast
from sedsl.language.format import format_expr, format_module, format_string
from sedsl.language.parser import parse_text
from tests.language.conftest import ROOT, shipped_spaces

FAST = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SPACES = shipped_spaces()


def parse(text: str, file: str = "t.space") -> ast.Module:
    diagnostics = Diagnostics()
    module = parse_text(text, file, diagnostics)
    assert not diagnostics.has_errors, [f"{d.span}: {d.message}" for d in diagnostics]
    return module


def fmt(text: str) -> str:
    return format_module(parse(text))


def comment_texts(module: ast.Module) -> list[str]:
    return [c.text.rstrip() for c in module.comments]


@pytest.mark.parametrize("path", SPACES, ids=lambda p: str(p.relative_to(ROOT)))
def test_shipped_space_round_trips(path):
    text = path.read_text(encoding="utf-8")
    formatted = fmt(text)
    assert parse(formatted) == parse(text)
    assert fmt(formatted) == formatted
    assert comment_texts(parse(formatted)) == comment_texts(parse(text))


MESSY = """\
# head
space   t   "a \\"q\\" \\\\ b"   # after the space
import "lib/attention.space"  ## an end-of-line doc-looking comment
## doc of p, line 1
##
## line 3
param p: int =   # inside the param
  2
## orphan, not a doc

param r: float = 1e5
op f(x: [B, C, H, W],   # in the parameters
     k: int = 3) -> [B, C, 1, 1] {  # header
  # own line
  y = g(x,   # inside an expression
     k=k)


  return y  # after return
  # before the brace
}  # after the brace
opset s(x: [B, C, H, W]) -> [B, C, 1, 1] { gap, # first
  # before fc
  fc(reduction=-(2-1)) }
block b(x: [B, C, H, W]) -> [B, C, H, W] {
  for k in 0..K { U[k] = a - (b - c) }  # after a loop
  z = sum(e[j, k] for j in 0..k)
  return -x ** 2 * (a + b) / (c * d) // (e % f) - -1 + (-x) ** 2
}
genotype g {}
genotype h { # in an empty genotype
}
genotype one { s = gap }
recipe { a = 1, b = "x",
}
check r (C, H) in [(1, 2),
  # between points
  (3, 4)]
require not a == b and (c or d)
# trailing
"""


def test_messy_file_round_trips_and_keeps_every_comment():
    formatted = fmt(MESSY)
    assert parse(formatted) == parse(MESSY)
    assert fmt(formatted) == formatted
    before, after = comment_texts(parse(MESSY)), comment_texts(parse(formatted))
    docs = [c for c in before if c.startswith("##")]
    assert sorted(after) == sorted(before)
    assert len(after) == len(before) and docs


def test_layout_is_canonical():
    formatted = fmt(MESSY)
    assert "  gap,  # first\n  # before fc\n  fc(reduction=-(2 - 1)),\n}" in formatted
    assert "for k in 0..K {\n    U[k] = a - (b - c)\n  }  # after a loop" in formatted
    assert "genotype one { s = gap }" in formatted
    assert 'recipe {\n  a = 1,\n  b = "x",\n}' in formatted
    assert "param r: float = 100000.0" in formatted
    assert "  y = g(x, k=k)  # inside an expression\n\n  return y  # after return" in formatted
    assert "## doc of p, line 1\n##\n## line 3\n" in formatted
    assert "\n\n\n" not in formatted


def test_a_doc_looking_comment_never_becomes_a_doc():
    text = "param a: int = 1\n## orphan\n\nparam b: int = 2\n"
    assert parse(fmt(text)).decls[1].doc is None
    text = "param a: int =\n## moved\n  1\nparam b: int = 2\n"
    formatted = fmt(text)
    assert parse(formatted) == parse(text) and fmt(formatted) == formatted


def test_long_one_line_op_wraps_after_the_equals_sign():
    text = "op f(x: [B, C, H, W]) -> [B, C, H, W] = " + " + ".join(["relu(x)"] * 20) + "\n"
    formatted = fmt(text)
    assert formatted.startswith("op f(x: [B, C, H, W]) -> [B, C, H, W] =\n  relu(x)\n    + relu")
    assert all(len(line) <= 100 for line in formatted.splitlines())
    assert parse(formatted) == parse(text) and fmt(formatted) == formatted


# ---- hypothesis: trees -> text -> trees ----------------------------------------------

KEYWORDS = {
    "space",
    "import",
    "param",
    "op",
    "opset",
    "block",
    "for",
    "in",
    "shared",
    "return",
    "require",
    "check",
    "genotype",
    "recipe",
    "and",
    "or",
    "not",
    "true",
    "false",
}
names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,6}", fullmatch=True).filter(
    lambda n: n not in KEYWORDS and not keyword.iskeyword(n)
)
numbers = st.one_of(
    st.integers(0, 10**30),
    st.floats(min_value=0, allow_nan=False, allow_infinity=False),
).map(ast.Number)
strings = st.text(max_size=8).map(ast.String)
atoms = st.one_of(numbers, strings, st.booleans().map(ast.Bool), names.map(ast.Name))


def _compound(children):
    binary = st.builds(
        ast.Binary, st.sampled_from(sorted(ast.BINARY_PRECEDENCE)), children, children
    )
    unary = st.builds(ast.Unary, st.sampled_from(["-", "not"]), children)
    keywords = st.lists(st.builds(ast.Keyword, names, children), max_size=2).map(tuple)
    generator = st.builds(ast.Generator, children, names, st.builds(ast.Range, children, children))
    args = st.lists(st.one_of(children, generator), max_size=3).map(tuple)
    call = st.builds(ast.Call, names.map(ast.Name), args, keywords)
    index = st.builds(ast.Index, children, st.lists(children, min_size=1, max_size=2).map(tuple))
    return st.one_of(binary, unary, call, index)


exprs = st.recursive(atoms, _compound, max_leaves=12)
leaf_exprs = st.recursive(atoms, _compound, max_leaves=3)  # inside declarations: keeps it fast


def _tuple(strategy, min_size=0, max_size=3):
    return st.lists(strategy, min_size=min_size, max_size=max_size).map(tuple)


shapes = st.builds(ast.ShapeAnn, _tuple(leaf_exprs, 1, 4))
docs = st.none() | st.lists(
    st.from_regex(r"[a-z0-9 ,.#]{0,12}", fullmatch=True).map(str.strip), min_size=1, max_size=2
).map("\n".join)
keywords = _tuple(st.builds(ast.Keyword, names, leaf_exprs), 0, 2)
candidates = st.builds(ast.Candidate, st.none() | names, names.map(ast.Name), keywords)
targets = st.builds(ast.Target, names, _tuple(leaf_exprs, 0, 2))
stmts = st.recursive(
    st.one_of(
        st.builds(ast.Assign, targets, leaf_exprs),
        st.builds(ast.Shared, names, names.map(ast.Name), keywords),
    ),
    lambda inner: st.builds(
        ast.For, names, st.builds(ast.Range, leaf_exprs, leaf_exprs), _tuple(inner, 0, 3)
    ),
    max_leaves=5,
)
tensor_params = st.builds(ast.TensorParam, names, shapes)
scalar_params = st.builds(ast.ScalarParam, names, names.map(ast.Name), st.none() | leaf_exprs)


@st.composite
def op_defs(draw):
    body = draw(_tuple(stmts, 0, 3))
    params = (draw(tensor_params), *draw(_tuple(st.one_of(tensor_params, scalar_params), 0, 2)))
    return ast.OpDef(
        draw(names),
        params,
        draw(shapes),
        body,
        draw(leaf_exprs),
        draw(docs),
        one_line=not body and draw(st.booleans()),
    )


decls = st.one_of(
    st.builds(ast.SpaceDecl, names, st.none() | st.text(max_size=10)),
    st.builds(ast.Import, strings),
    st.builds(ast.Param, names, names.map(ast.Name), leaf_exprs, docs),
    op_defs(),
    st.builds(ast.OpSet, names, tensor_params, shapes, _tuple(candidates, 1, 3), docs),
    st.builds(ast.Block, names, tensor_params, shapes, _tuple(stmts, 0, 3), leaf_exprs, docs),
    st.builds(ast.Require, leaf_exprs),
    st.builds(
        ast.Check, names, _tuple(names.map(ast.Name), 1, 3), _tuple(_tuple(leaf_exprs, 1, 3), 1, 2)
    ),
    st.builds(ast.Genotype, names, _tuple(st.builds(ast.Choice, targets, candidates)), docs),
    st.builds(ast.Recipe, _tuple(st.builds(ast.Setting, names, leaf_exprs))),
)
modules = _tuple(decls, 0, 5).map(ast.Module)


@FAST
@given(exprs)
def test_expressions_print_with_parentheses_that_parse_back(expr):
    text = f"require {format_expr(expr)}\n"
    assert parse(text).decls == (ast.Require(expr),)


@FAST
@given(st.text(max_size=20))
def test_strings_are_re_escaped(value):
    module = parse(f"import {format_string(value)}\n")
    assert module.decls[0].path.value == value


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(modules)
def test_generated_modules_round_trip(module):
    text = format_module(module)
    reparsed = parse(text)
    assert reparsed == module
    assert format_module(reparsed) == text
