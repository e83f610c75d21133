"""The abstract syntax tree of a .space file: frozen dataclasses, each with its Span.

Spans do not take part in equality, so `parse(fmt(text)) == parse(text)` compares
structure only.
"""

from __future__ import annotations

from dataclasses import field

from sedsl.diagnostics.span import Span
from sedsl.frozen import frozen

NO_SPAN = Span("<none>", 0, 0, 0, 0)


def _span() -> Span:
    return field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


# ---- expressions ---------------------------------------------------------------------


@frozen
class Number:
    value: int | float
    span: Span = _span()


@frozen
class String:
    value: str
    span: Span = _span()


@frozen
class Bool:
    value: bool
    span: Span = _span()


@frozen
class Name:
    id: str
    span: Span = _span()


@frozen
class Unary:
    op: str  # "-" or "not"
    operand: Expr
    span: Span = _span()


@frozen
class Binary:
    op: str  # + - * / // % ** == != < <= > >= and or
    left: Expr
    right: Expr
    span: Span = _span()


@frozen
class Keyword:
    name: str
    value: Expr
    span: Span = _span()


@frozen
class Range:
    start: Expr
    stop: Expr
    span: Span = _span()


@frozen
class Generator:
    """`element for var in start..stop`, as the one argument of sum/concat/mean/..."""

    element: Expr
    var: str
    range: Range
    span: Span = _span()


@frozen
class Call:
    func: Name
    args: tuple[Expr | Generator, ...]
    kwargs: tuple[Keyword, ...]
    span: Span = _span()


@frozen
class Index:
    value: Expr
    indices: tuple[Expr, ...]
    span: Span = _span()


Expr = Number | String | Bool | Name | Unary | Binary | Call | Index

BINARY_PRECEDENCE = {
    "or": 1,
    "and": 2,
    "==": 4,
    "!=": 4,
    "<": 4,
    "<=": 4,
    ">": 4,
    ">=": 4,
    "+": 5,
    "-": 5,
    "*": 6,
    "/": 6,
    "//": 6,
    "%": 6,
    "**": 8,
}
UNARY_PRECEDENCE = {"not": 3, "-": 7}


# ---- statements ----------------------------------------------------------------------


@frozen
class Target:
    """An assigned name, optionally indexed by loop variables: `U[k]`, `o[j, k]`."""

    name: str
    indices: tuple[Expr, ...] = ()
    span: Span = _span()


@frozen
class Assign:
    target: Target
    value: Expr
    span: Span = _span()


@frozen
class For:
    var: str
    range: Range
    body: tuple[Stmt, ...]
    span: Span = _span()


@frozen
class Shared:
    """`shared mlp = fc(reduction=4)`: one module instance used at several call sites."""

    name: str
    op: Name
    kwargs: tuple[Keyword, ...]
    span: Span = _span()


Stmt = Assign | For | Shared


# ---- declarations --------------------------------------------------------------------


@frozen
class ShapeAnn:
    dims: tuple[Expr, ...]
    span: Span = _span()


@frozen
class TensorParam:
    name: str
    shape: ShapeAnn
    span: Span = _span()


@frozen
class ScalarParam:
    name: str
    type: Name
    default: Expr | None
    span: Span = _span()


@frozen
class SpaceDecl:
    name: str
    doc: str | None
    span: Span = _span()


@frozen
class Import:
    path: String
    span: Span = _span()


@frozen
class Param:
    name: str
    type: Name
    default: Expr
    doc: str | None = None
    span: Span = _span()


@frozen
class DimDecl:
    """`dim Cin = C`: a dimension of the insertion point beyond the block input's C, H, W."""

    name: str
    default: Expr | None
    doc: str | None = None
    span: Span = _span()


@frozen
class Extern:
    """Where an extern op's code lives, `"pkg.module:Class"(C, k=k)`: the import path and
    the arguments its class is built with (or its function called with, after the tensors)."""

    target: String
    args: tuple[Expr, ...] = ()
    kwargs: tuple[Keyword, ...] = ()
    span: Span = _span()


@frozen
class OpDef:
    """A composite op (`body` and `returns`), or with `extern` a user's own op, whose
    declared result shape is trusted; its `returns` is then the target string."""

    name: str
    params: tuple[TensorParam | ScalarParam, ...]
    result: ShapeAnn
    body: tuple[Stmt, ...]
    returns: Expr
    doc: str | None = None
    one_line: bool = field(default=False, compare=False)  # `= expr` form; layout only
    extern: Extern | None = None
    span: Span = _span()


@frozen
class Candidate:
    """A candidate of an op set: `conv1d(k=3)`, optionally labelled `ks3 = conv1d(k=3)`."""

    label: str | None
    op: Name
    kwargs: tuple[Keyword, ...]
    span: Span = _span()


@frozen
class OpSet:
    name: str
    input: TensorParam
    result: ShapeAnn
    candidates: tuple[Candidate, ...]
    doc: str | None = None
    span: Span = _span()


@frozen
class Block:
    name: str
    input: TensorParam
    result: ShapeAnn
    body: tuple[Stmt, ...]
    returns: Expr
    doc: str | None = None
    span: Span = _span()


@frozen
class Require:
    condition: Expr
    span: Span = _span()


@frozen
class Check:
    """`check resnet20 (C, H, W) in [(16, 32, 32), ...]`: instantiation points."""

    name: str
    dims: tuple[Name, ...]
    points: tuple[tuple[Expr, ...], ...]
    span: Span = _span()


@frozen
class Choice:
    edge: Target
    candidate: Candidate
    span: Span = _span()


@frozen
class Genotype:
    name: str
    choices: tuple[Choice, ...]
    doc: str | None = None
    span: Span = _span()


@frozen
class Setting:
    name: str
    value: Expr
    span: Span = _span()


@frozen
class Recipe:
    settings: tuple[Setting, ...]
    span: Span = _span()


Decl = (
    SpaceDecl
    | Import
    | Param
    | DimDecl
    | OpDef
    | OpSet
    | Block
    | Require
    | Check
    | Genotype
    | Recipe
)


@frozen
class Comment:
    text: str  # including the leading '#'
    span: Span = _span()


@frozen
class Module:
    """One parsed file. Comments are kept apart from the tree so the formatter can keep them."""

    decls: tuple[Decl, ...]
    comments: tuple[Comment, ...] = field(default=(), compare=False)
    path: str = field(default="<string>", compare=False)
    source: str = field(default="", compare=False, repr=False)
