"""Property tests of the shape algebra: evaluation is a ring homomorphism, substitution
agrees with evaluation, division-like atoms evaluate like Python ints, and the normal form
makes equal polynomials equal however they were built."""

from __future__ import annotations

import ast
import math
from fractions import Fraction

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from sedsl.shapes.dims import Dim

FAST = settings(max_examples=150, deadline=None)
SYMBOLS = ("B", "C", "H", "W", "r")

envs = st.fixed_dictionaries({s: st.integers(1, 64) for s in SYMBOLS})
leaves = st.one_of(st.integers(-5, 9).map(Dim.const), st.sampled_from(SYMBOLS).map(Dim.sym))


def _combine(children):
    ops = st.sampled_from(["+", "-", "*"])
    return st.tuples(ops, children, children).map(_apply)


def _apply(args):
    op, a, b = args
    return {"+": a + b, "-": a - b, "*": a * b}[op]


polynomials = st.recursive(leaves, _combine, max_leaves=8)
positive = st.one_of(st.integers(1, 9).map(Dim.const), st.sampled_from(SYMBOLS).map(Dim.sym))


@FAST
@given(polynomials, polynomials, envs)
def test_evaluate_is_additive(a, b, env):
    assert (a + b).evaluate(env) == a.evaluate(env) + b.evaluate(env)
    assert (a - b).evaluate(env) == a.evaluate(env) - b.evaluate(env)
    assert (-a).evaluate(env) == -a.evaluate(env)


@FAST
@given(polynomials, polynomials, envs)
def test_evaluate_is_multiplicative(a, b, env):
    assert (a * b).evaluate(env) == a.evaluate(env) * b.evaluate(env)


@FAST
@given(polynomials, envs)
def test_constants_map_to_themselves(a, env):
    assert Dim.const(7).evaluate(env) == 7
    assert (a * 1).evaluate(env) == a.evaluate(env)
    assert (a + 0) == a


@FAST
@given(polynomials, st.sampled_from(SYMBOLS), polynomials, envs)
def test_subs_agrees_with_evaluate(a, name, replacement, env):
    substituted = a.subs({name: replacement})
    inner = {**env, name: replacement.evaluate(env)}
    assert substituted.evaluate(env) == a.evaluate(inner)


@FAST
@given(polynomials, positive, envs)
def test_floordiv_ceildiv_mod_evaluate_like_python_ints(a, b, env):
    x, y = a.evaluate(env), b.evaluate(env)
    assume(x >= 0 and y > 0)
    x, y = int(x), int(y)
    assert (a // b).evaluate(env) == x // y
    assert a.ceildiv(b).evaluate(env) == -(-x // y) == math.ceil(Fraction(x, y))
    assert (a % b).evaluate(env) == x % y


@FAST
@given(polynomials, polynomials, polynomials)
def test_normal_form_makes_ring_identities_equal(a, b, c):
    assert a + b == b + a
    assert a * b == b * a
    assert (a + b) + c == a + (b + c)
    assert a * (b + c) == a * b + a * c
    assert a - a == Dim.const(0)
    assert a * 2 - a == a


@FAST
@given(polynomials, envs)
def test_equal_dims_hash_equal(a, env):
    rebuilt = (a + Dim.sym("C")) - Dim.sym("C")
    assert rebuilt == a and hash(rebuilt) == hash(a)
    assert rebuilt.evaluate(env) == a.evaluate(env)


def test_simplifications_of_division():
    c = Dim.sym("C")
    assert (4 * c) // 4 == c
    assert c // 1 == c
    assert Dim.const(7) // 2 == Dim.const(3)
    assert str(c // Dim.sym("r")) == "C // r"


@FAST
@given(polynomials, positive, st.sampled_from(SYMBOLS), polynomials, polynomials)
def test_memoised_subs_equals_uncached(a, b, name, first, second):
    """The memo keys on the bindings of a dim's own symbols: a binding it does not use, or
    one seen before with another value, must not change the answer."""
    for dim in (a, a // b, a.ceildiv(b), a % b):
        for mapping in ({name: first}, {name: second}, {name: first, "unused": second}):
            assert dim.subs(mapping) == dim._subs_uncached(mapping)
            assert str(dim.subs(mapping)) == str(dim._subs_uncached(mapping))


def _double_negations(code: str) -> int:
    return sum(
        isinstance(node, ast.UnaryOp)
        and isinstance(node.op, ast.USub)
        and isinstance(node.operand, ast.UnaryOp)
        and isinstance(node.operand.op, ast.USub)
        for node in ast.walk(ast.parse(code, mode="eval"))
    )


@FAST
@given(polynomials, positive, positive, envs)
def test_ceildiv_in_python_is_ceil_without_double_negation(a, b, c, env):
    """The Python of a ceil, of a ceil of a ceil (GatherExcite's two stride-2 gathers) and of a
    ceil of a negation computes it, and never writes `-(-(...))` (ruff B002 rejects it)."""
    for dim in (a.ceildiv(b), a.ceildiv(b).ceildiv(c), (-a).ceildiv(b)):
        code = dim.to_python()
        assert eval(code, {"max": max, "min": min}, dict(env)) == dim.evaluate(env), code
        assert _double_negations(code) == 0, code
