"""Evaluate the manifest's dim expressions (`C * W * min(7, H)`) without `eval`.

The strings are what `Dim.__str__` renders; this reads them back with Python's own parser
and walks a whitelist: integer literals, names bound in `env`, + - * / // % **, unary
minus, and calls of min, max and ceil. Anything else is rejected. Arithmetic is exact
(`Fraction`), so `C * H * W / 4` and `ceil(H / 7)` mean what the checker meant.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Mapping
from fractions import Fraction


class ExprError(ValueError):
    """A manifest expression that is not a dim expression, or names an unbound symbol."""


_BINARY = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: lambda a, b: Fraction(math.floor(a / b)),
    ast.Mod: lambda a, b: a - b * math.floor(a / b),
}
_FUNCTIONS = {
    "min": lambda *a: min(a),
    "max": lambda *a: max(a),
    "ceil": lambda a: Fraction(math.ceil(a)),
}


def evaluate(text: str, env: Mapping[str, int | Fraction]) -> Fraction:
    """The value of `text` with the symbols of `env` bound."""
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise ExprError(f"not a dim expression: {text!r}") from exc
    try:
        return _eval(tree.body, env, text)
    except ZeroDivisionError as exc:
        raise ExprError(f"division by zero in {text!r}") from exc


def evaluate_int(text: str, env: Mapping[str, int | Fraction]) -> int:
    value = evaluate(text, env)
    if value.denominator != 1:
        raise ExprError(f"{text!r} is not an integer here ({value})")
    return int(value)


def _eval(node: ast.AST, env, text: str) -> Fraction:
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return Fraction(node.value)
    if isinstance(node, ast.Name):
        if node.id not in env:
            raise ExprError(f"{text!r} uses {node.id!r}, which is not bound ({', '.join(env)})")
        return Fraction(env[node.id])
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        value = _eval(node.operand, env, text)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp):
        left, right = _eval(node.left, env, text), _eval(node.right, env, text)
        if isinstance(node.op, ast.Pow):
            if right.denominator != 1 or not 0 <= right <= 64:
                raise ExprError(f"{text!r}: only small integer powers are allowed")
            return left ** int(right)
        if type(node.op) in _BINARY:
            return _BINARY[type(node.op)](left, right)
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in _FUNCTIONS
        and node.args
        and not node.keywords
    ):
        args = [_eval(a, env, text) for a in node.args]
        if node.func.id == "ceil" and len(args) != 1:
            raise ExprError(f"{text!r}: ceil takes one argument")
        return _FUNCTIONS[node.func.id](*args)
    raise ExprError(f"not a dim expression: {text!r} (at {ast.dump(node)[:40]})")
