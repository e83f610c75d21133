"""What a primitive op is: typed parameters, a shape rule and a code template.

A primitive is one `Primitive` entry in `sedsl/ops/library.py`. Its shape rule works on
symbolic dims and may add obligations (conditions the checker proves or evaluates at the
instantiation points); its code template turns Python expressions for its inputs, dims
and parameters into a constructor (for ops with weights) and a forward expression.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sedsl.frozen import frozen
from sedsl.shapes.dims import Dim

Shape = tuple[Dim, ...]
ParamValue = Dim | float | str | bool


class ShapeError(Exception):
    """Raised by a shape rule when its inputs cannot be accepted; becomes a diagnostic."""

    def __init__(
        self, message: str, *, help: str | None = None, argument: int = 0, code: str | None = None
    ):
        super().__init__(message)
        self.message = message
        self.help = help
        self.argument = argument  # which tensor argument is at fault, for the span
        self.code = code  # the diagnostic code, when not the op's shape-mismatch default


@frozen
class Obligation:
    """`lhs op rhs` must hold at every instantiation point (e.g. `C // reduction >= 1`)."""

    lhs: Dim
    op: str  # == != < <= > >=, or ~ : equal, or one of them 1 (a broadcast)
    rhs: Dim
    reason: str

    def __str__(self) -> str:
        if self.op == "~":
            return f"{self.lhs} == {self.rhs} or one of them 1"
        return f"{self.lhs} {self.op} {self.rhs}"


@frozen
class ParamSpec:
    name: str
    type: str  # int | float | str | bool | dim | axes (a string naming axes, or an axis number)
    default: ParamValue | None = None  # None: required
    doc: str = ""
    choices: tuple[str, ...] = ()
    optional: bool = False  # may be left out although it has no default


@dataclass
class ShapeContext:
    """Collects the obligations one shape rule adds."""

    obligations: list[Obligation] = field(default_factory=list)
    # for an op that returns a list: how many tensors (`Primitive.count`, made constant
    # with the space's parameters), so that its rule can give the shape of each
    parts: int = 0

    def require(self, lhs: Dim | int, op: str, rhs: Dim | int, reason: str) -> None:
        lhs, rhs = _dim(lhs), _dim(rhs)
        self.obligations.append(Obligation(lhs, op, rhs, reason))


def _dim(value: Dim | int) -> Dim:
    return value if isinstance(value, Dim) else Dim.const(value)


@frozen
class CodeInputs:
    """What a code template gets: Python source for each input and each parameter."""

    args: tuple[str, ...]  # forward expressions of the tensor inputs
    shapes: tuple[tuple[str, ...], ...]  # constructor-time Python expressions of their dims
    params: dict[str, str]  # Python literals / expressions of the parameters
    raw: dict[str, ParamValue]  # the parameter values themselves
    label: str = ""  # where the call is (`split` of node `F` in block `hoga`), for errors


@frozen
class Code:
    call: str  # forward expression; `{m}` stands for the module attribute
    init: str | None = None  # constructor expression of the module, for ops with weights
    imports: tuple[str, ...] = ()  # helper names from sedsl/ops/runtime.py to emit


@frozen
class Primitive:
    name: str
    doc: str
    signature: str  # for docs and `sedsl explain`, e.g. "[B, C, H, W] -> [B, C, 1, 1]"
    params: tuple[ParamSpec, ...]
    arity: int | None  # number of tensor inputs; None for one or more
    infer: Callable[[ShapeContext, list[Shape], dict[str, ParamValue]], Shape]
    code: Callable[[CodeInputs], Code]
    # minimum pipeline buffer (TSE paper, section 3.2) in elements, from the input shapes
    buffer: Callable[[list[Shape], dict[str, ParamValue]], Dim] | None = None
    # for an op that returns a list: how many tensors, from its parameters; its `infer`
    # then returns the shape of each, a tuple of `ctx.parts` shapes
    count: Callable[[dict[str, ParamValue]], Dim] | None = None
    stateful: bool = False  # has weights or buffers, so each call site owns a module
    # the dims its weights are shaped by, from the input shapes and parameters; None for the
    # default of a stateful op: the input channels and every `dim` parameter. A weight
    # shaped by H or W pins the module to the size it was built for.
    sized_by: Callable[[list[Shape], dict[str, ParamValue]], tuple[Dim, ...]] | None = None
    # a parameter that a string after the tensors may give (`permute(x, "b c h w -> ...")`)
    positional: str | None = None
    # takes keyword sizes of its pattern's axes besides its parameters (`h=H`)
    axis_sizes: bool = False

    @property
    def returns_list(self) -> bool:
        return self.count is not None

    def weight_dims(self, shapes: list[Shape], params: dict[str, ParamValue]) -> tuple[Dim, ...]:
        """The dims this op's weights are shaped by at one call (none if it has no weights)."""
        if not self.stateful:
            return ()
        full = {p.name: p.default for p in self.params if p.default is not None}
        full.update(params)
        if self.sized_by is not None:
            return self.sized_by(shapes, full)
        channels = tuple(s[1] for s in shapes if len(s) > 1)
        dims = tuple(v for p in self.params if isinstance(v := full.get(p.name), Dim))
        return channels + dims

    def param(self, name: str) -> ParamSpec | None:
        return next((p for p in self.params if p.name == name), None)
