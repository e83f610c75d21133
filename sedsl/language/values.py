"""The value types shared by the resolver, the DAG builder and the elaborator.

Elaborating an expression gives a Value: a tensor (its IR expression and symbolic
shape), a list of tensors (the result of `split`), a scalar, or Poison, the value of
something already reported as wrong, which silences the errors it would cause
downstream. `Abort` stops elaborating one node after its diagnostic was reported.
"""

from __future__ import annotations

from sedsl.diagnostics.span import Span
from sedsl.frozen import frozen
from sedsl.language import ast, ir
from sedsl.language.names import indexed_display, indexed_py
from sedsl.shapes.dims import Dim

COMPARISONS = ("==", "!=", "<", "<=", ">", ">=")
MAX_UNROLL = 4096  # nodes per graph; a loop over a huge range is a mistake, not a space


class Abort(Exception):
    """Stops elaborating one node after its diagnostic was reported."""


@frozen
class TV:
    """A tensor value."""

    expr: ir.Expr
    shape: ir.Shape


@frozen
class LV:
    """A list of tensors."""

    items: tuple[TV, ...]


@frozen
class SV:
    """A scalar: a dim expression, a float, a bool, a string or a float parameter."""

    value: Dim | float | bool | str | ir.ParamRef


@frozen
class Poison:
    """The value of something already reported as wrong."""


Value = TV | LV | SV | Poison
POISON = Poison()

NodeKey = tuple[str, tuple[int, ...]]  # ("U", (1,)) is node U[1]


@frozen
class PendingNode:
    """An unrolled assignment, waiting to be elaborated in dependency order."""

    key: NodeKey
    expr: ast.Expr
    env: tuple[tuple[str, int], ...]  # loop variables in scope, as (name, value)
    span: Span

    @property
    def display(self) -> str:
        return indexed_display(*self.key)

    @property
    def py(self) -> str:
        return indexed_py(*self.key)

    @property
    def env_dict(self) -> dict[str, int]:
        return dict(self.env)


def shape_text(shape: ir.Shape) -> str:
    return "[" + ", ".join(map(str, shape)) + "]"
