"""The resolved IR: what the checker verifies and the generator emits.

Imports are merged, parameters resolved, loops unrolled and every tensor expression
carries its symbolic shape. Frozen dataclasses throughout; spans point back at the source.
"""

from __future__ import annotations

from dataclasses import field

from sedsl.diagnostics.span import Span
from sedsl.frozen import frozen
from sedsl.ops.primitive import Obligation, ParamValue, Shape
from sedsl.shapes.dims import Dim


@frozen
class Claim:
    """A condition on sizes, with the code and span it is reported under when it fails."""

    condition: Obligation
    code: str
    span: Span
    # (op set, candidate) when this claim is a candidate meeting its set's signature: a
    # signature that no candidate meets is reported once, at the signature
    candidate: tuple[str, str] | None = None

    def at(self, mapping: dict[str, Dim], where: str, span: Span) -> Claim:
        """This claim at a use site: the callee's symbols replaced by the caller's dims."""
        c = self.condition
        inst = Obligation(c.lhs.subs(mapping), c.op, c.rhs.subs(mapping), f"{c.reason} ({where})")
        return Claim(inst, self.code, span, self.candidate)


@frozen
class ParamRef:
    """A float or bool parameter of a composite op, used symbolically in its body."""

    name: str
    type: str


# ---- tensor expressions ------------------------------------------------------------


@frozen
class Ref:
    """A reference to an input or a node, by its Python name."""

    py: str
    shape: Shape


@frozen
class Const:
    value: int | float


@frozen
class PrimCall:
    prim: str
    args: tuple[Expr, ...]
    params: tuple[tuple[str, ParamValue], ...]
    module: str | None  # attribute name when the primitive owns weights
    shape: Shape | None  # None for list-valued primitives (split)


@frozen
class OpCall:
    """A call of a composite op (or of a shared instance of one, `module` then shared)."""

    op: str
    args: tuple[Expr, ...]
    module: str
    shape: Shape


@frozen
class EdgeCall:
    edge: str  # python name of the searched edge
    arg: Expr
    shape: Shape


@frozen
class BinOp:
    op: str  # + - * /
    left: Expr
    right: Expr
    shape: Shape | None  # None when both sides are scalars


@frozen
class Neg:
    operand: Expr
    shape: Shape | None


@frozen
class Item:
    """`F[k]` where F is a list-valued node (the result of split)."""

    base: Expr
    index: int
    shape: Shape


@frozen
class ExternCall:
    """The body of an extern op: the user's code (module `module`) called on the op's tensor
    inputs. Its result must have `shape`, the declared one, which forward checks."""

    module: str
    args: tuple[Expr, ...]
    shape: Shape


Expr = Ref | Const | PrimCall | OpCall | EdgeCall | BinOp | Neg | Item | ExternCall


# ---- graphs ------------------------------------------------------------------------


@frozen
class Module:
    """A submodule owned by a graph: a primitive with weights, a composite op or an edge."""

    attr: str
    kind: str  # prim | op | edge
    target: str  # primitive, op or op set name
    params: tuple[tuple[str, ParamValue], ...]
    input_shapes: tuple[Shape, ...]


@frozen
class Node:
    name: str  # as written, unrolled: "U[1]"
    py: str  # its Python name: "U_1"
    expr: Expr
    shape: Shape | None  # None for a list value
    span: Span
    length: int = 0  # number of items of a list value


@frozen
class Graph:
    inputs: tuple[tuple[str, Shape], ...]  # (python name, declared shape)
    nodes: tuple[Node, ...]  # in dependency order
    output: Expr
    modules: tuple[Module, ...]


@frozen
class ScalarParamIR:
    name: str
    type: str
    default: ParamValue | None


@frozen
class ExternIR:
    """Where an extern op's code lives and what it is built with: a class is constructed
    with `args` and `kwargs` (over the op's dims and parameters), a function called with
    the tensors and then them. Imported when a generated block is built, never by sedsl."""

    target: str  # "package.module:attribute"
    args: tuple[ParamValue | ParamRef, ...]
    kwargs: tuple[tuple[str, ParamValue | ParamRef], ...]
    span: Span

    @property
    def module(self) -> str:
        return self.target.partition(":")[0]


@frozen
class OpIR:
    name: str
    py_class: str
    doc: str | None
    dims: tuple[str, ...]  # symbols of the input signature, constructor arguments in order
    params: tuple[ScalarParamIR, ...]
    graph: Graph
    result: Shape
    span: Span
    # the conditions its body needs, on its own symbols; each call site instantiates them
    claims: tuple[Claim, ...] = field(default=(), repr=False, compare=False)
    extern: ExternIR | None = None  # a user's own op: its graph is one ExternCall

    def param_dims(self, given: dict[str, ParamValue]) -> dict[str, Dim]:
        """The int parameters as dims, from a call's values or the defaults, for
        instantiating the op's shapes and obligations at that call."""
        mapping: dict[str, Dim] = {}
        for p in self.params:
            value = given.get(p.name, p.default)
            if isinstance(value, Dim):
                mapping[p.name] = value
            elif isinstance(value, int) and not isinstance(value, bool):
                mapping[p.name] = Dim.const(value)
        return mapping


@frozen
class CandidateIR:
    label: str  # how genotypes and search name it
    op: str  # primitive or composite op
    kind: str  # prim | op
    params: tuple[tuple[str, ParamValue], ...]
    result: Shape
    span: Span
    # what it needs to meet its set's signature, on the set's symbols; an edge whose
    # input binds them to other dims (HOGA's C / K groups) instantiates them again
    claims: tuple[Claim, ...] = field(default=(), repr=False, compare=False)


@frozen
class OpSetIR:
    name: str
    doc: str | None
    input: Shape
    result: Shape
    candidates: tuple[CandidateIR, ...]
    span: Span
    # labels of listed candidates that failed to build (and said why): a genotype that
    # names one is not wrong a second time
    broken: tuple[str, ...] = field(default=(), repr=False, compare=False)


@frozen
class EdgeIR:
    name: str  # as written: "o[0, 1]"
    py: str  # "o_0_1"
    opset: str
    input: Shape
    span: Span


@frozen
class BlockIR:
    name: str
    doc: str | None
    input: Shape
    result: Shape
    graph: Graph
    edges: tuple[EdgeIR, ...]
    span: Span


@frozen
class GenotypeIR:
    name: str
    doc: str | None
    choices: tuple[tuple[str, str], ...]  # (edge python name, candidate label), block order
    span: Span


@frozen
class PointSet:
    name: str
    points: tuple[tuple[tuple[str, int], ...], ...]
    span: Span


@frozen
class ParamIR:
    name: str
    type: str
    value: int | float | bool | str
    doc: str | None
    span: Span


@frozen
class PointDimIR:
    """`dim Cin = C`: a dim the insertion point provides beyond the block input's."""

    name: str
    default: Dim | None  # over the block input's dims and int params; None: must be given
    doc: str | None
    span: Span


@frozen
class Requirement:
    lhs: Dim
    op: str
    rhs: Dim
    text: str
    span: Span


@frozen
class SpaceIR:
    name: str
    doc: str | None
    source: str  # display path of the main file
    source_sha256: str  # over the main file and its imports
    params: tuple[ParamIR, ...]
    ops: tuple[OpIR, ...]
    opsets: tuple[OpSetIR, ...]
    block: BlockIR | None
    genotypes: tuple[GenotypeIR, ...]
    point_sets: tuple[PointSet, ...]
    requirements: tuple[Requirement, ...]
    recipe: tuple[tuple[str, int | float | bool | str], ...]
    claims: tuple[Claim, ...] = field(repr=False, default=())
    point_dims: tuple[PointDimIR, ...] = ()

    def opset(self, name: str) -> OpSetIR:
        return next(s for s in self.opsets if s.name == name)

    def op(self, name: str) -> OpIR:
        return next(o for o in self.ops if o.name == name)

    def param_env(self) -> dict[str, int | float]:
        return {p.name: p.value for p in self.params if p.type in ("int", "float")}
