"""An `EdgeProgram` (sedsl/codegen/compile.py) -> the Python of a compiled edge's forward.

The class holds its candidates exactly as the reference `MixedOp` does (`self.candidates`,
one module each, so a checkpoint of either loads into the other); only forward differs: one
straight line of primitive calls over the edge's input, each shared value computed once,
then the softmax-weighted sum of the candidates' results in candidate order.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field

from sedsl.codegen.compile import EdgeProgram, PNode, run_once, same_conv, stacks
from sedsl.codegen.emit import py_value
from sedsl.ops.library import PRIMITIVES
from sedsl.ops.primitive import CodeInputs
from sedsl.shapes.dims import Dim

_AXES = {"hw": "(2, 3)", "c": "(1,)"}
_COUNT = {"hw": "{x}.shape[2] * {x}.shape[3]", "c": "{x}.shape[1]"}


@dataclass
class EdgeBody:
    """The methods of one compiled edge: `forward`, and when the candidates are recomputed in
    backward, `mixed(x, weights, *once)`, which forward runs under torch.utils.checkpoint."""

    forward_lines: list[str]
    returns: str
    mixed_args: list[str] = field(default_factory=list)
    mixed_lines: list[str] = field(default_factory=list)
    helpers: set[str] = field(default_factory=set)  # helpers of ops.py it calls
    own: set[str] = field(default_factory=set)  # helpers of sedsl/ops/compiled.py it calls


@dataclass
class EdgeClass:
    """One compiled-edge class of supernet.py."""

    name: str
    doc: str
    body: EdgeBody
    edges: list[str] = field(default_factory=list)  # the edges that use it


def edge_body(program: EdgeProgram, recompute: bool = True) -> EdgeBody:
    """The Python of the compiled edge `program`; with `recompute`, everything but what must
    run once (compile.run_once) is recomputed in backward instead of kept."""
    names: dict[int, str] = {}
    outer: list[str] = []
    inner: list[str] = []
    body = EdgeBody([], "out")
    modules = {"outer": False, "inner": False}
    stacked = {m: s for s in stacks(program) for m in s.members}
    gated, mix = _mix_lines(program, names)
    live = _live(program, gated)
    once = run_once(program) if recompute else set(range(len(program.nodes)))
    for i, node in enumerate(program.nodes):
        if i not in live:  # a candidate's x * g, folded into the mixed gate
            continue
        if node.kind == "input":
            names[i] = "x"
            continue
        if node.kind == "const":
            names[i] = node.op
            continue
        if node.kind == "item" and program.nodes[node.args[0]].op == "moments":
            continue  # named by the moments line
        names[i] = f"v{i}"
        part = "outer" if i in once else "inner"
        lines = outer if i in once else inner
        modules[part] |= node.module is not None or node.kind == "call"
        if node.kind == "stat" and node.op == "moments":
            lines += _moments_lines(program, i, names, live)
            body.own |= {"Moments", "moments"}
            continue
        stack = stacked.get(i)
        if stack is not None:
            if i == stack.members[0]:
                lines += _stack_lines(program, stack, names[node.args[0]])
                body.own.add(stack.helper)
                if stack.helper == "stacked_conv2d":  # runs conv2d_same
                    body.own |= {"SameConv2d", "conv2d_same"}
            continue
        readers = program.readers[i]
        note = f"  # {', '.join(readers)}" if len(readers) < len(program.labels) else ""
        if same_conv(node):
            if "same_conv2d" not in body.own:
                lines.append(
                    "# same_conv2d: a small conv whose backward runs as forward convs, faster"
                )
                lines.append("# on CPU (sedsl/ops/fused.py)")
            body.own |= {"SameConv2d", "conv2d_same", "same_conv2d"}
            lines.append(f"v{i} = same_conv2d({names[node.args[0]]}, c{node.module}){note}")
            continue
        if node.kind == "stat" and node.op == "norm_l2":  # compile._lower_norm_l2
            total, source = (names[a] for a in node.args)
            count = _COUNT["hw"].format(x=source)
            body.own.add("instance_norm_l2")
            lines.append("# instance norm + L2 norm as its closed form in s2 / n: no pass over")
            lines.append(f"# {source} of its own (sedsl/ops/fused.py)")
            lines.append(f"v{i} = instance_norm_l2({total}, {count}, c{node.module}){note}")
            continue
        if node.kind == "stat" and node.op == "norm_l2_c":  # compile._lower_norm_l2
            body.own |= {"ChannelNormL2", "channel_norm_l2"}
            lines.append("# LayerNorm + L2 norm over channels keeping the input, not the")
            lines.append("# normalised map, for backward (sedsl/ops/fused.py)")
            lines.append(f"v{i} = channel_norm_l2({names[node.args[0]]}, c{node.module}){note}")
            continue
        value, needed = _render(node, [names[a] for a in node.args])
        body.helpers |= needed
        lines.append(f"v{i} = {value}{note}")
    prelude = ["c = self.candidates"]
    if not inner:  # nothing worth recomputing: one forward, mixed in place
        body.forward_lines = prelude * modules["outer"] + outer + mix()
        return body
    passed = _passed(program, live, once, gated)
    body.mixed_args = ["x", "weights", *(names[i] for i in passed)]
    body.mixed_lines = prelude * modules["inner"] + inner + mix()
    body.forward_lines = prelude * modules["outer"] + outer + _checkpoint_comment(program, once)
    body.returns = f"recomputed(self, self.mixed, {', '.join(body.mixed_args)})"
    body.own.add("recomputed")
    return body


def _passed(program: EdgeProgram, live: set[int], once: set[int], gated) -> list[int]:
    """The values computed once that the recomputed part reads, in program order."""
    read = {a for i in live - once for a in program.nodes[i].args}
    read |= {f for factors in gated.values() for f in factors or ()}
    read |= {r for k, r in enumerate(program.results) if k not in gated}
    return sorted(i for i in read & once if program.nodes[i].kind not in ("input", "const"))


def _checkpoint_comment(program: EdgeProgram, once: set[int]) -> list[str]:
    kept = [program.nodes[i] for i in sorted(once) if program.nodes[i].kind != "input"]
    text = (
        "the candidates' intermediates are recomputed in backward instead of kept "
        "(torch.utils.checkpoint, `recomputed`): cheap to redo, several maps of the input's "
        "size each"
    )
    if kept:
        text += "; what updates running statistics (or is an opaque call) runs once, above"
    return [f"# {line}" for line in textwrap.wrap(text, 86)]


def _gate_factors(program: EdgeProgram, i: int) -> list[int] | None:
    """The factors g of a value that is the edge's input times them (x * g, (x * g) * h, x
    itself: no factor), else None."""
    if i == 0:
        return []
    node = program.nodes[i]
    if node.kind == "prim" and node.op == "identity":
        return _gate_factors(program, node.args[0])
    if node.kind == "binop" and node.op == "*":
        for inner, other in (node.args, node.args[::-1]):
            factors = _gate_factors(program, inner)
            if factors is not None:
                return [*factors, other]
    return None


def _gated(program: EdgeProgram) -> dict[int, list[int] | None]:
    """Candidate index -> its gate factors, for the candidates whose result gates the input,
    when two or more do (only then does one mixed gate save work); None for a candidate that
    is zero (DARTS' `none`), which then adds nothing."""
    gated = {}
    for k, r in enumerate(program.results):
        factors = _gate_factors(program, r)
        if factors is not None:
            gated[k] = factors
        elif _is_zero(program, r):
            gated[k] = None  # adds w_k * 0: nothing
    return gated if sum(f is not None for f in gated.values()) > 1 else {}


def _is_zero(program: EdgeProgram, i: int) -> bool:
    node = program.nodes[i]
    return node.kind == "prim" and node.op == "zero"


def _live(program: EdgeProgram, gated: dict[int, list[int] | None]) -> set[int]:
    """The nodes the mix reads, directly or through others: a gated candidate's own x * g is
    not one of them unless another node reads it (CBAM's spatial part reads its channel
    gating)."""
    roots = [f for factors in gated.values() for f in factors or ()]
    roots += [r for k, r in enumerate(program.results) if k not in gated]
    live: set[int] = {0}
    while roots:
        i = roots.pop()
        if i not in live:
            live.add(i)
            roots.extend(program.nodes[i].args)
    return live


def _mix_lines(program: EdgeProgram, names: dict[int, str]):
    """(gated candidates, a function of the mix's lines once every name is known).

    Candidates that gate the input (x * g_k, and the identity, x * 1) are mixed as one gate:
    sum_k w_k (x * g_k) = x * sum_k w_k g_k, the same sum reordered, so x is multiplied
    once and each g_k is read once; the other candidates are added as MixedOp does."""
    gated = _gated(program)

    def lines() -> list[str]:
        out: list[str] = []
        if gated:
            ones = [f"weights[{k}]" for k, f in gated.items() if f == []]
            terms = [(k, [names[i] for i in f]) for k, f in gated.items() if f]
            zeros = [program.labels[k] for k, f in gated.items() if f is None]
            text = (
                "the candidates "
                + ", ".join(program.labels[k] for k, f in gated.items() if f is not None)
                + " gate the input: sum_k w_k (x * g_k) = x * sum_k w_k g_k, one multiply by x"
                + (f"; {', '.join(zeros)} adds w * 0, nothing" if zeros else "")
            )
            out += [f"# {line}" for line in textwrap.wrap(text, 86)]
            gate = " + ".join(ones) if ones else None
            for k, factors in terms:
                scaled = " * ".join([f"weights[{k}]", *factors[:-1]])
                if gate is None:
                    out.append(f"gate = {scaled} * {factors[-1]}")
                else:
                    out.append(f"gate = torch.addcmul({gate}, {scaled}, {factors[-1]})")
                gate = "gate"
            out.append(f"out = x * {gate}")
        rest = [k for k in range(len(program.results)) if k not in gated]
        for n, k in enumerate(rest):
            result = names[program.results[k]]
            if n == 0 and not gated:
                out.append(f"out = weights[{k}] * {result}")
            else:
                out.append(f"out = torch.addcmul(out, weights[{k}], {result})")
        return out

    return gated, lines


def _stack_lines(program: EdgeProgram, stack, arg: str) -> list[str]:
    who = ", ".join(dict.fromkeys(r for m in stack.members for r in program.readers[m]))
    modules = ", ".join(f"c{program.nodes[m].module}" for m in stack.members)
    targets = ", ".join(f"v{m}" for m in stack.members)
    kind = f"k={stack.size}" if "conv1d" in stack.helper else f"{stack.size}x{stack.size}"
    text = f"one call for the convs of {who} on the same input, kernels zero-padded to {kind}"
    comment = [f"# {line}" for line in textwrap.wrap(text, 86)]
    return [*comment, f"{targets} = {stack.helper}({arg}, ({modules},), {stack.size})"]


def _moments_lines(program: EdgeProgram, i: int, names: dict[int, str], live) -> list[str]:
    node = program.nodes[i]
    params = dict(node.params)
    items = [j for j, n in enumerate(program.nodes) if n.kind == "item" and n.args == (i,)]
    items.sort(key=lambda j: int(program.nodes[j].op))
    for j in items:
        names[j] = f"v{j}" if j in live else "_"
    x = names[node.args[0]]
    text = (
        f"one pass for the statistics of {x} over {_AXES[params['over']]} that "
        f"{', '.join(program.readers[i])} read; its gradient is written out "
        "(sedsl/ops/fused.py), so autograd keeps only the input and the statistics"
    )
    comment = [f"# {line}" for line in textwrap.wrap(text, 86)]
    targets = ", ".join(names[j] for j in items) + ("," if len(items) == 1 else "")
    stats = (
        "("
        + ", ".join(py_value(s) for s in params["stats"])
        + ("," if len(items) == 1 else "")
        + ")"
    )
    return [*comment, f"{targets} = moments({x}, {_AXES[params['over']]}, {stats})"]


def _render(node: PNode, args: list[str]) -> tuple[str, set[str]]:
    if node.kind == "prim":
        prim = PRIMITIVES[node.op]
        raw = dict(node.params)
        label = raw.pop("label", "")  # compile.py's name of a split, for its runtime error
        rendered = {k: _param(v) for k, v in raw.items()}
        shapes = tuple(tuple(f"{a}.shape[{d}]" for d in range(4)) for a in args)
        inputs = CodeInputs(args=tuple(args), shapes=shapes, params=rendered, raw=raw, label=label)
        code = prim.code(inputs)
        call = code.call.replace("{m}", f"c{node.module}") if node.module else code.call
        return call, set(code.imports) if node.module is None else set()
    if node.kind == "call":
        return f"c{node.module}({', '.join(args)})", set()
    if node.kind == "binop":
        return f"{args[0]} {node.op} {args[1]}", set()
    if node.kind == "neg":
        return f"-{args[0]}", set()
    if node.kind == "item":
        return f"{args[0]}[{node.op}]", set()
    if node.kind == "stat":
        return _stat(node, args), set()
    raise ValueError(f"internal error: cannot render {node}")


def _stat(node: PNode, args: list[str]) -> str:
    params = dict(node.params)
    if node.op == "root":  # as lp_pool: the p-th root of the sum of x^p
        return f"{args[0]}.pow(1.0 / {params['p']})"
    if node.op == "std":  # as std_pool: sum of squares / (n - 1) (or n), + eps, sqrt
        count = _COUNT[params["over"]].format(x=args[1])
        divisor = f"({count} - 1)" if params["unbiased"] else f"({count})"
        return f"({args[0]} / {divisor} + 1e-10).sqrt()"
    raise ValueError(f"internal error: unknown statistic {node.op}")


def _param(value) -> str:
    if isinstance(value, Dim):
        return value.to_python({})
    return py_value(value)


def shared_note(program: EdgeProgram) -> str:
    """One sentence for the class docstring: what the candidates share."""
    shared = [
        i for i in program.shared() if i not in {m for s in stacks(program) for m in s.members}
    ]
    calls = [
        "The convs of "
        + ", ".join(dict.fromkeys(r for m in s.members for r in program.readers[m]))
        + " run as one call."
        for s in stacks(program)
    ]
    if not shared:
        return " ".join(calls) or "No two candidates share a value; each runs inlined."
    parts = []
    for i in shared:
        node = program.nodes[i]
        if node.kind == "item":  # a moment: the moments node names it
            continue
        what = node.op if node.kind in ("prim", "stat") else node.kind
        if node.op == "moments":
            what = "the statistics " + ", ".join(dict(node.params)["stats"])
        parts.append(f"{what} ({', '.join(program.readers[i])})")
    return " ".join([*calls, "Computed once for several candidates: " + "; ".join(parts) + "."])
