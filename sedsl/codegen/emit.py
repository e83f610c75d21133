"""IR -> the pieces of Python the templates lay out: class specs with their constructor
and forward lines. Every name and expression is computed here; templates only arrange."""

from __future__ import annotations

import ast as pyast
import re
import textwrap
from dataclasses import dataclass, field

from sedsl.check.sizes import forward_params, input_axes, lone_symbol, rebase
from sedsl.language import ir
from sedsl.language.names import class_name
from sedsl.ops.library import PRIMITIVES
from sedsl.ops.primitive import CodeInputs
from sedsl.shapes.dims import Dim

DIM_ARG_NAMES = {"C": "channels", "H": "height", "W": "width"}
_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2}


@dataclass
class ClassSpec:
    """One nn.Module class of a generated file."""

    name: str
    doc: str
    init_args: list[str]  # "channels: int", "reduction: int = 16"
    init_lines: list[str]
    forward_args: list[str]
    forward_lines: list[str]
    returns: str
    helpers: set[str] = field(default_factory=set)  # runtime helpers it needs
    uses: set[str] = field(default_factory=set)  # other generated classes it instantiates


def docstring(text: str | None, width: int = 88) -> str:
    """A safe Python string literal for a docstring: no text from a .space file can end
    the literal early and become a statement. Long lines are wrapped to `width`."""
    text = (text or "").strip()
    text = "\n".join(
        "\n".join(textwrap.wrap(line, width, break_on_hyphens=False)) or line
        for line in text.split("\n")
    )
    literal = repr(text)
    # repr() escapes quotes and backslashes; a triple-quoted form reads better when safe
    printable = all(ch.isprintable() or ch == "\n" for ch in text)
    if '"""' not in text and "\\" not in text and not text.endswith('"') and printable:
        literal = f'"""{text}"""'
    assert isinstance(pyast.literal_eval(literal), str)
    return literal


def py_value(value) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return repr(value)
    raise TypeError(value)


class Emitter:
    """Renders IR expressions and modules of one space into Python source."""

    def __init__(self, space: ir.SpaceIR):
        self.space = space
        self.space_ints = {
            p.name: Dim.const(p.value)
            for p in space.params
            if p.type == "int" and isinstance(p.value, int)
        }
        self.space_values = {p.name: p.value for p in space.params}
        self.edge_weights = False  # supernet edges take their softmax weights as well
        self.where = ""  # the node being emitted, for the runtime checks' messages

    # ---- scalars --------------------------------------------------------------------
    def dim(self, d: Dim, names: dict[str, str]) -> str:
        d = d.subs({k: v for k, v in self.space_ints.items() if k not in names})
        return d.to_python(names)

    def param(self, value, names: dict[str, str]) -> str:
        if isinstance(value, Dim):
            return self.dim(value, names)
        if isinstance(value, ir.ParamRef):
            return names.get(value.name, value.name)
        return py_value(value)

    # ---- expressions ------------------------------------------------------------------
    def expr(self, e: ir.Expr, names: dict[str, str], lists: dict, prec: int = 0) -> str:
        if isinstance(e, ir.Ref):
            return e.py
        if isinstance(e, ir.Const):
            return py_value(e.value)
        if isinstance(e, ir.PrimCall):
            return self._prim_call(e, names, lists)
        if isinstance(e, ir.OpCall):
            return f"self.{e.module}({', '.join(self.expr(a, names, lists) for a in e.args)})"
        if isinstance(e, ir.EdgeCall):
            weights = f', w["{e.edge}"]' if self.edge_weights else ""
            return f"self.{e.edge}({self.expr(e.arg, names, lists)}{weights})"
        if isinstance(e, ir.ExternCall):
            return self._extern_call(e, names, lists)
        if isinstance(e, ir.Item):  # of a list node, or of a list made in place: split(x)[k]
            base = lists[e.base] if e.base in lists else self.expr(e.base, names, lists)
            return f"{base}[{e.index}]"
        if isinstance(e, ir.Neg):
            return f"-{self.expr(e.operand, names, lists, 3)}"
        if isinstance(e, ir.BinOp):
            p = _PRECEDENCE[e.op]
            left = self.expr(e.left, names, lists, p)
            right = self.expr(e.right, names, lists, p + 1)
            text = f"{left} {e.op} {right}"
            return f"({text})" if p < prec else text
        raise TypeError(e)

    def _extern_call(self, e: ir.ExternCall, names, lists) -> str:
        """The user's code on the tensors, with the shape it must return: each dim read from
        the inputs at forward (so it follows any size), the rest from the parameters."""
        axes: dict[str, str] = {}
        for arg in e.args:
            for axis, d in enumerate(arg.shape):
                if (symbol := lone_symbol(d)) is not None:
                    axes.setdefault(symbol, f"{arg.py}.shape[{axis}]")
        expected = ", ".join(self.dim(d, {**names, **axes}) for d in e.shape)
        tensors = ", ".join(self.expr(a, names, lists) for a in e.args)
        expected = f"({expected},)" if len(e.shape) == 1 else f"({expected})"
        return f"self.{e.module}({tensors}, expected={expected})"

    def _prim_call(self, e: ir.PrimCall, names, lists) -> str:
        prim = PRIMITIVES[e.prim]
        args = tuple(self.expr(a, names, lists) for a in e.args)
        shapes = tuple(getattr(a, "shape", None) or () for a in e.args)
        label = f"`{e.prim}` of {self.where}" if self.where else ""
        code = prim.code(self._code_inputs(e.params, shapes, args, names, label))
        call = code.call.replace("{m}", f"self.{e.module}") if e.module else code.call
        return call

    def _code_inputs(self, params, input_shapes, args, names, label="") -> CodeInputs:
        raw = dict(params)
        rendered = {k: self.param(v, names) for k, v in raw.items()}
        shapes = tuple(tuple(self.dim(d, names) for d in s) for s in input_shapes)
        return CodeInputs(args=args, shapes=shapes, params=rendered, raw=raw, label=label)

    # ---- modules ----------------------------------------------------------------------
    def module_init(self, m: ir.Module, names: dict[str, str], spec: ClassSpec) -> str:
        if m.kind == "prim":
            prim = PRIMITIVES[m.target]
            args = tuple(f"x{i}" for i in range(len(m.input_shapes)))
            code = prim.code(self._code_inputs(m.params, m.input_shapes, args, names))
            spec.helpers.update(code.imports)
            return code.init
        op = self.space.op(m.target)
        if m.kind == "extern":
            spec.helpers.update(("ExternOp", "load_extern"))
            return self.extern_init(op, names)
        spec.uses.add(op.py_class)
        return self.construct_op(op, m.input_shapes[0], m.params, names)

    def extern_init(self, op: ir.OpIR, names: dict[str, str]) -> str:
        """`ExternOp(op, target, declared shape, args, kwargs)`: imports the user's code
        when the module is built, and checks each result against the declared shape."""
        extern = op.extern
        args = "".join(f"{self.param(v, names)}, " for v in extern.args)
        kwargs = ", ".join(f"{k!r}: {self.param(v, names)}" for k, v in extern.kwargs)
        declared = "[" + ", ".join(str(d) for d in op.result) + "]"
        return f"ExternOp({op.name!r}, {extern.target!r}, {declared!r}, ({args}), {{{kwargs}}})"

    def construct_op(self, op: ir.OpIR, input_shape, params, names) -> str:
        """`ClassName(<its dims, bound from the input shape>, param=value, ...)`."""
        binding = dict(zip(_signature_dims(op), _bound_dims(op, input_shape), strict=True))
        args = [self.dim(d, names) for d in binding.values()]
        defaults = {p.name: p.default for p in op.params}
        followable = forward_params(op)
        for name, value in params:
            if name in followable and isinstance(value, Dim):
                relative = self.follow(op, value, input_shape)
                if relative is not None:
                    args.append(f"{name}={relative}")
                    continue
            if value is None or (
                not isinstance(value, Dim | ir.ParamRef) and value == defaults.get(name)
            ):
                continue
            if isinstance(value, Dim) and value.is_const and defaults.get(name) == value.value:
                continue
            args.append(f"{name}={self.param(value, names)}")
        return f"{op.py_class}({', '.join(args)})"

    def follow(self, op: ir.OpIR, value: Dim, input_shape) -> str | None:
        """A size handed to `op` that depends on its input's dims, as a function of them
        (`lambda channels, height, width: height`), which the op evaluates at forward."""
        value = value.subs(self.space_ints)
        if value.is_const:
            return None
        rebased = rebase(value, op.graph.inputs[0][1], input_shape)
        if rebased is None:
            return None
        own = dim_arg_names(_signature_dims(op), {p.name for p in op.params})
        params = ", ".join(own[d] for d in _signature_dims(op))
        return f"lambda {params}: {rebased.to_python(own)}"

    def graph_body(
        self,
        graph: ir.Graph,
        names,
        spec: ClassSpec,
        followable: frozenset[str] = frozenset(),
        dims: tuple[str, ...] = (),
        owner: str = "",
    ) -> None:
        """Constructor and forward lines of a graph. In forward, a dim that is an axis of an
        input is read from that input and a `followable` size parameter is evaluated at it,
        so sizes written in terms of H and W follow the input (sedsl/check/sizes.py)."""
        lists: dict = {}
        for m in graph.modules:
            spec.init_lines.append(f"self.{m.attr} = {self.module_init(m, names, spec)}")
        taken = {py for py, _ in graph.inputs} | {n.py for n in graph.nodes}
        attrs, prelude = self.forward_names(graph, names, followable, dims, taken)
        for node in graph.nodes:
            if node.shape is None:  # a list value, e.g. split's groups
                lists[node.expr] = node.py
            self.where = f"node `{node.name}` in {owner}" if owner else f"node `{node.name}`"
            value = self.expr(node.expr, attrs, lists)
            spec.forward_lines.append(f"{node.py} = {value}")
        spec.returns = self.expr(graph.output, attrs, lists)
        spec.forward_lines[:0] = _used_prelude(prelude, [*spec.forward_lines, spec.returns])
        if any(" = size_at(" in line for line in spec.forward_lines):
            spec.helpers.add("size_at")
        forward = "\n".join([*spec.forward_lines, spec.returns])
        for arg in sorted(set(names.values())):
            if re.search(rf"\bself\.{arg}\b", forward):
                spec.init_lines.insert(0, f"self.{arg} = {arg}")
        for prim in _prims_in(graph):
            p = PRIMITIVES[prim.prim]
            shapes = tuple(getattr(a, "shape", None) or () for a in prim.args)
            code = p.code(self._code_inputs(prim.params, shapes, ("x",) * len(prim.args), names))
            spec.helpers.update(code.imports)

    def forward_names(self, graph: ir.Graph, names, followable, dims, taken):
        """Names of dims and parameters in forward, and the lines that define the locals:
        `height = x.shape[2]`, `th = size_at(self.th, channels, height, width)`."""
        attrs = {k: f"self.{v}" for k, v in names.items()}
        prelude: list[tuple[str, str]] = []
        for symbol, (arg, axis) in input_axes(graph).items():
            if symbol in names and symbol not in followable:
                local = _free(names[symbol], taken)
                attrs[symbol] = local
                prelude.append((local, f"{arg}.shape[{axis}]"))
        at = ", ".join(attrs[d] for d in dims)
        for p in sorted(followable):
            local = _free(names[p], taken)
            attrs[p] = local
            prelude.append((local, f"size_at(self.{names[p]}, {at})"))
        return attrs, prelude


def _free(name: str, taken: set[str]) -> str:
    while name in taken:
        name += "_"
    return name


def _used_prelude(prelude: list[tuple[str, str]], lines: list[str]) -> list[str]:
    """The prelude lines whose local the forward reads, with what those lines read."""
    text = "\n".join(lines)
    used = [False] * len(prelude)
    for i in reversed(range(len(prelude))):
        later = "\n".join(prelude[j][1] for j in range(i + 1, len(prelude)) if used[j])
        used[i] = bool(re.search(rf"\b{prelude[i][0]}\b", text + "\n" + later))
    kept = zip(prelude, used, strict=True)
    return [f"{local} = {value}" for (local, value), keep in kept if keep]


@dataclass(frozen=True)
class RequirementCheck:
    """One `require` clause as Python: the condition and the f-string of its error."""

    condition: str
    message: tuple[str, ...]  # string literals, concatenated (one per line when emitted)


def requirement_checks(emitter: Emitter, names: dict[str, str]) -> list[RequirementCheck]:
    """The space's `require` clauses, to be checked when a block is built: the message quotes
    the clause and the values that break it, as the checker's E040 does."""
    checks = []
    for req in emitter.space.requirements:
        lhs, rhs = emitter.dim(req.lhs, names), emitter.dim(req.rhs, names)
        used = sorted(req.lhs.symbols() | req.rhs.symbols())
        bindings = ", ".join(
            f"{s}={{{names[s]}}}" if s in names else f"{s}={emitter.space_values.get(s)}"
            for s in used
        )
        sides = [
            f"{_braces(str(side))} = {{{emitter.dim(side, names)}}}"
            for side in (req.lhs, req.rhs)
            if not side.is_const
        ]
        parts = [f"requirement `{_braces(req.text)}` fails ", f"(with {bindings}: "]
        parts += [f"{side} and " for side in sides[:-1]] + [f"{sides[-1]})"]
        literals = tuple(("f" if "{" in p.replace("{{", "") else "") + repr(p) for p in parts)
        checks.append(RequirementCheck(f"{lhs} {req.op} {rhs}", literals))
    return checks


def _braces(text: str) -> str:
    return text.replace("{", "{{").replace("}", "}}")


def dim_arg_names(symbols: tuple[str, ...], taken: set[str]) -> dict[str, str]:
    names = {}
    for s in symbols:
        name = DIM_ARG_NAMES.get(s, s.lower())
        while name in taken or name in names.values():
            name += "_dim"
        names[s] = name
    return names


def _signature_dims(op: ir.OpIR) -> tuple[str, ...]:
    """An op class's constructor dims: its signature's symbols but the batch axis."""
    first = op.graph.inputs[0][1]
    batch = str(first[0]) if first[0].symbols() else None
    return tuple(d for d in op.dims if d != batch)


def _bound_dims(op: ir.OpIR, shape) -> list[Dim]:
    binding: dict[str, Dim] = {}
    for declared, actual in zip(op.graph.inputs[0][1], shape, strict=False):
        if len(declared.terms) == 1 and str(declared) in declared.symbols():
            binding.setdefault(str(declared), actual)
    return [binding.get(d, Dim.sym(d)) for d in _signature_dims(op)]


def _prims_in(graph: ir.Graph):
    found = []

    def walk(e):
        if isinstance(e, ir.PrimCall):
            found.append(e)
        for child in getattr(e, "args", ()) or ():
            walk(child)
        for attr in ("left", "right", "operand", "arg", "base"):
            if hasattr(e, attr):
                walk(getattr(e, attr))

    for node in graph.nodes:
        walk(node.expr)
    walk(graph.output)
    return found


def op_class(emitter: Emitter, op: ir.OpIR) -> ClassSpec:
    params = {p.name for p in op.params}
    names = dim_arg_names(_signature_dims(op), params)
    names.update({p.name: p.name for p in op.params})
    followable = forward_params(op)
    init_args = [f"{names[d]}: int" for d in _signature_dims(op)]
    for p in op.params:
        annotation = {"int": "int", "float": "float", "bool": "bool"}[p.type]
        if p.name in followable:  # a number, or a function of the input's dims (size_at)
            annotation = "int | Callable[..., int]"
        default = f" = {py_value(p.default)}" if p.default is not None else ""
        init_args.append(f"{p.name}: {annotation}{default}")
    spec = ClassSpec(
        name=op.py_class,
        doc=docstring(op.doc or f"The `{op.name}` op."),
        init_args=init_args,
        init_lines=[],
        forward_args=[f"{name}: Tensor" for name, _ in op.graph.inputs],
        forward_lines=[],
        returns="",
    )
    emitter.graph_body(op.graph, names, spec, followable, _signature_dims(op), f"op `{op.name}`")
    return spec


def candidate_class_name(opset: ir.OpSetIR, cand: ir.CandidateIR) -> str:
    return class_name(f"{opset.name}_{cand.label}")


def prim_candidate_class(emitter: Emitter, opset: ir.OpSetIR, cand: ir.CandidateIR) -> ClassSpec:
    """A primitive used directly as a candidate becomes a small class of its own."""
    prim = PRIMITIVES[cand.op]
    symbols = tuple(str(d) for d in opset.input[1:] if len(d.terms) == 1 and d.symbols())
    names = dim_arg_names(symbols, set())
    spec = ClassSpec(
        name=candidate_class_name(opset, cand),
        doc=docstring(f"`{cand.label}` of op set `{opset.name}`: {prim.doc}"),
        init_args=[f"{names[s]}: int" for s in symbols],
        init_lines=[],
        forward_args=["x: Tensor"],
        forward_lines=[],
        returns="",
    )
    code = prim.code(emitter._code_inputs(cand.params, (opset.input,), ("x",), names))
    spec.helpers.update(code.imports)
    if prim.stateful:
        spec.init_lines.append(f"self.op = {code.init}")
    spec.returns = code.call.replace("{m}", "self.op")
    return spec


def construct_candidate(
    emitter: Emitter, opset: ir.OpSetIR, cand: ir.CandidateIR, input_shape, names
) -> str:
    if cand.kind == "op":
        return emitter.construct_op(emitter.space.op(cand.op), input_shape, cand.params, names)
    symbols = [d for d in opset.input[1:] if len(d.terms) == 1 and d.symbols()]
    binding = {str(d): a for d, a in zip(opset.input, input_shape, strict=True)}
    args = [emitter.dim(binding[str(s)], names) for s in symbols]
    return f"{candidate_class_name(opset, cand)}({', '.join(args)})"
