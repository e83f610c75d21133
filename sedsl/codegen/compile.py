"""Compile a searched edge: every candidate as one graph of primitive calls, over the IR.

A hand-written DARTS `MixedOp` runs each candidate as an opaque module. Here each candidate
of an edge is inlined, composite ops included, into one shared graph whose nodes are
primitive calls on the edge's input; identical stateless calls are one node (hash-consing,
i.e. common-subexpression elimination across the candidates). The squeezes' statistics
(GAP, max, std, skew and L_p pooling) of one tensor over the same axes become one `moments`
call (sedsl/ops/fused.py): one node, its gradient written out, in place of the twenty-odd
full-size steps (and saved buffers) autograd records for them one by one.

Nothing here is a rule about a space: the passes read primitives and their parameters only.
Whatever the compiler cannot inline (an op whose forward reads sizes from its input, a
stateless primitive with a size parameter that is not a constant) stays a call of the
candidate's own module, so a compiled edge computes exactly what the reference `MixedOp`
does and holds the very same modules (same state dict).

`sedsl/codegen/edge_emit.py` turns an `EdgeProgram` into Python.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sedsl.language import ir
from sedsl.ops.library import PRIMITIVES
from sedsl.ops.primitive import ParamValue
from sedsl.shapes.dims import Dim


@dataclass(frozen=True)
class PNode:
    """One value of an edge program.

    kind: `input` (the edge's input), `prim` (a primitive call; `module` is the path of its
    module below the edge when it has weights), `call` (an opaque call of a candidate's
    submodule), `stat` (a lowered piece of a statistic: `op` names it), `binop`, `neg`,
    `const`, `item` (one part of a list value)."""

    kind: str
    op: str
    args: tuple[int, ...] = ()
    params: tuple[tuple[str, ParamValue], ...] = ()
    module: str | None = None
    serial: int = 0  # distinguishes calls of modules: never merged (BN updates its stats)


@dataclass(frozen=True)
class EdgeProgram:
    """The candidates of one edge as one graph: `results[i]` is candidate i's output."""

    opset: str
    labels: tuple[str, ...]
    nodes: tuple[PNode, ...]
    results: tuple[int, ...]
    # the labels of the candidates that read each node (for the emitted comments)
    readers: tuple[tuple[str, ...], ...] = field(default=())

    def shared(self) -> list[int]:
        """Nodes that more than one candidate reads, besides the input."""
        return [
            i for i, r in enumerate(self.readers) if len(r) > 1 and self.nodes[i].kind != "input"
        ]


class NotInlinable(Exception):
    """A part the compiler keeps as a module call."""


class _Builder:
    def __init__(self, space: ir.SpaceIR) -> None:
        self.space = space
        self.space_ints = {
            p.name: Dim.const(p.value)
            for p in space.params
            if p.type == "int" and isinstance(p.value, int) and not isinstance(p.value, bool)
        }
        self.nodes: list[PNode] = [PNode("input", "x")]
        self.index: dict[PNode, int] = {self.nodes[0]: 0}
        self.serial = 0
        self.where = ""  # the node being inlined

    def add(self, node: PNode) -> int:
        if node.module is not None or node.kind == "call":
            self.serial += 1
            node = PNode(node.kind, node.op, node.args, node.params, node.module, self.serial)
        found = self.index.get(node)
        if found is not None:
            return found
        self.nodes.append(node)
        self.index[node] = len(self.nodes) - 1
        return len(self.nodes) - 1

    # ---- parameters -------------------------------------------------------------------
    def resolve(self, value, env: dict[str, ParamValue]):
        """A parameter value in the caller's terms: op parameters substituted from `env`,
        space parameters by their values; a Dim left with symbols stays symbolic."""
        if isinstance(value, ir.ParamRef):
            if value.name not in env:
                raise NotInlinable(f"parameter {value.name} has no value")
            return env[value.name]
        if isinstance(value, Dim):
            dims = {k: v for k, v in env.items() if isinstance(v, Dim)}
            return value.subs(dims).subs(self.space_ints)
        return value

    # ---- candidates and ops -------------------------------------------------------------
    def candidate(self, opset: ir.OpSetIR, index: int, cand: ir.CandidateIR) -> int:
        path = f"[{index}]"
        try:
            if cand.kind == "prim":
                params = tuple((k, self.resolve(v, {})) for k, v in cand.params)
                module = f"{path}.op" if PRIMITIVES[cand.op].stateful else None
                return self.prim(cand.op, (0,), params, module)
            op = self.space.op(cand.op)
            env = {k: self.resolve(v, {}) for k, v in cand.params}
            return self.op(op, (0,), env, path)
        except NotInlinable:
            return self.add(PNode("call", "", (0,), module=path))

    def op(self, op: ir.OpIR, args: tuple[int, ...], given: dict, path: str) -> int:
        from sedsl.check.sizes import forward_params

        if forward_params(op):  # sizes it reads from its input at forward (size_at)
            raise NotInlinable(op.name)
        env: dict[str, ParamValue] = {}
        for p in op.params:
            if p.name in given:
                env[p.name] = given[p.name]
            elif p.default is not None:
                env[p.name] = self.resolve(p.default, {})
        ints = {p.name for p in op.params if p.type == "int"}
        for name in ints:
            value = env.get(name)
            if isinstance(value, int) and not isinstance(value, bool):
                env[name] = Dim.const(value)
        local = {name: a for (name, _), a in zip(op.graph.inputs, args, strict=True)}
        modules = {m.attr: m for m in op.graph.modules}
        lists: dict[str, tuple[int, ...]] = {}
        for node in op.graph.nodes:
            self.where = f"node `{node.name}` in op `{op.name}`"  # for split's runtime errors
            value = self.expr(node.expr, local, lists, env, modules, path)
            if isinstance(value, tuple):
                lists[node.py] = value
            else:
                local[node.py] = value
        out = self.expr(op.graph.output, local, lists, env, modules, path)
        if isinstance(out, tuple):
            raise NotInlinable("a list-valued result")
        return out

    def expr(self, e: ir.Expr, local, lists, env, modules, path):
        if isinstance(e, ir.Ref):
            if e.py in lists:
                return lists[e.py]
            return local[e.py]
        if isinstance(e, ir.Const):
            return self.add(PNode("const", repr(e.value)))
        if isinstance(e, ir.Neg):
            return self.add(
                PNode("neg", "-", (self._one(e.operand, local, lists, env, modules, path),))
            )
        if isinstance(e, ir.BinOp):
            left = self._one(e.left, local, lists, env, modules, path)
            right = self._one(e.right, local, lists, env, modules, path)
            return self.add(PNode("binop", e.op, (left, right)))
        if isinstance(e, ir.Item):
            base = self.expr(e.base, local, lists, env, modules, path)
            if not isinstance(base, tuple):
                raise NotInlinable("an item of a value that is not a list")
            return base[e.index]
        if isinstance(e, ir.PrimCall):
            args = tuple(self._one(a, local, lists, env, modules, path) for a in e.args)
            params = tuple((k, self.resolve(v, env)) for k, v in e.params)
            if PRIMITIVES[e.prim].returns_list:  # edge_emit hands it on as CodeInputs.label
                params += (("label", f"`{e.prim}` of {self.where}"),)
            module = f"{path}.{e.module}" if e.module else None
            result = self.prim(e.prim, args, params, module)
            if PRIMITIVES[e.prim].returns_list:
                parts = _list_length(e.prim, params)
                return tuple(self.add(PNode("item", str(i), (result,))) for i in range(parts))
            return result
        if isinstance(e, ir.OpCall):
            args = tuple(self._one(a, local, lists, env, modules, path) for a in e.args)
            module = modules[e.module]
            sub = f"{path}.{e.module}"
            given = {k: self.resolve(v, env) for k, v in module.params}
            try:
                return self.op(self.space.op(e.op), args, given, sub)
            except NotInlinable:
                return self.add(PNode("call", "", args, module=sub))
        raise NotInlinable(type(e).__name__)

    def _one(self, e, local, lists, env, modules, path) -> int:
        value = self.expr(e, local, lists, env, modules, path)
        if isinstance(value, tuple):
            raise NotInlinable("a list where a tensor is expected")
        return value

    def prim(self, name: str, args: tuple[int, ...], params, module: str | None) -> int:
        prim = PRIMITIVES[name]
        full = {p.name: p.default for p in prim.params if p.default is not None}
        full.update(dict(params))
        if module is None:  # a stateless call renders its parameters: they must be known
            for value in full.values():
                if isinstance(value, Dim) and not value.is_const:
                    raise NotInlinable(f"{name} with a size that is not a constant")
        if name in _AXIS_PRIMS or full.get("over", "hw") not in ("hw", "c"):
            # edge_emit renders every argument as [B, C, H, W]; these depend on the rank
            raise NotInlinable(f"{name} over axes of a tensor of unknown rank")
        lowered = _LOWERINGS.get(name) if module is None else _MODULE_LOWERINGS.get(name)
        if lowered is not None:
            found = lowered(self, args[0], full, module)
            if found is not None:
                return found
        return self.add(PNode("prim", name, args, tuple(sorted(full.items())), module))


def _list_length(prim: str, params) -> int:
    parts = PRIMITIVES[prim].count(dict(params))
    if not (isinstance(parts, Dim) and parts.is_const):
        raise NotInlinable("a split into a number of parts that is not a constant")
    return int(parts.value)


# ---- lowering of statistics ------------------------------------------------------------
# A statistic of a tensor over the spatial or channel axes is a `moment` node naming what it
# needs (`s2`, the sum of squares about the mean; `m3`, the mean cube about the mean; `p4`,
# the sum of x^4); what the op does with it after (std's sqrt, lp's p-th root) stays a small
# node of its own. `_fuse_moments` then computes all the moments of one tensor over the same
# axes, means and maxima included, as one `moments` call (sedsl/ops/fused.py).


def _over(params) -> str:
    return params.get("over", "hw")


def _moment(b: _Builder, x: int, over: str, stat: str) -> int:
    return b.add(PNode("stat", "moment", (x,), (("over", over), ("stat", stat))))


def _lower_std(b: _Builder, x: int, params, module=None) -> int:
    over = _over(params)
    total = _moment(b, x, over, "s2")
    unbiased = bool(params.get("unbiased", True))
    return b.add(PNode("stat", "std", (total, x), (("over", over), ("unbiased", unbiased))))


def _lower_skew(b: _Builder, x: int, params, module=None) -> int:
    return _moment(b, x, _over(params), "m3")


def _lower_lp(b: _Builder, x: int, params, module=None) -> int:
    p = params.get("p", 4.0)
    if p not in (2, 3, 4):  # a sum of a power that is not a moment: lp_pool's own call
        return b.add(PNode("prim", "lp_pool", (x,), tuple(sorted(params.items()))))
    total = _moment(b, x, _over(params), f"p{int(p)}")
    return b.add(PNode("stat", "root", (total,), (("p", p),)))


def _lower_norm_l2(b: _Builder, x: int, params, module: str) -> int | None:
    """norm_l2_pool over hw (instance norm, then the L2 norm per channel) is a closed form in
    the biased variance (NormL2Pool in sedsl/ops/runtime.py): the variance is s2 / n, the
    moment the other squeezes of x share, so it costs no pass of its own (`x.var` is one of
    the slowest reductions on CPU, and its backward several more). Over c it normalises the
    map itself: `channel_norm_l2`, which keeps the input, not the normalised map, for
    backward."""
    if _over(params) == "c":
        return b.add(PNode("stat", "norm_l2_c", (x,), (("over", "c"),), module))
    if _over(params) != "hw":
        return None
    total = _moment(b, x, "hw", "s2")
    return b.add(PNode("stat", "norm_l2", (total, x), (("over", "hw"),), module))


_AXIS_PRIMS = frozenset({"permute", "reshape", "rearrange", "softmax", "matmul"})
_LOWERINGS = {"std_pool": _lower_std, "skew_pool": _lower_skew, "lp_pool": _lower_lp}
# lowerings of primitives with weights: the node keeps the module, whose weights it reads
_MODULE_LOWERINGS = {"norm_l2_pool": _lower_norm_l2}


# ---- the pass ---------------------------------------------------------------------------


def compile_edge(space: ir.SpaceIR, edge: ir.EdgeIR) -> EdgeProgram:
    """The candidates of `edge` inlined into one graph, shared nodes merged, dead ones gone."""
    opset = space.opset(edge.opset)
    builder = _Builder(space)
    results = tuple(builder.candidate(opset, i, c) for i, c in enumerate(opset.candidates))
    labels = tuple(c.label for c in opset.candidates)
    return _fuse_moments(_prune(opset.name, labels, builder.nodes, results))


def _prune(opset: str, labels, nodes: list[PNode], results: tuple[int, ...]) -> EdgeProgram:
    """Keep the nodes some result reads (a failed inlining leaves dead ones), renumbered in
    order, with the candidates that read each."""
    readers: dict[int, set[str]] = {}
    for label, result in zip(labels, results, strict=True):
        stack = [result]
        while stack:
            i = stack.pop()
            if label in readers.setdefault(i, set()):
                continue
            readers[i].add(label)
            stack.extend(nodes[i].args)
    keep = sorted(readers | {0: readers.get(0, set())})
    new = {old: n for n, old in enumerate(keep)}
    renumbered = tuple(
        PNode(
            nodes[i].kind,
            nodes[i].op,
            tuple(new[a] for a in nodes[i].args),
            nodes[i].params,
            nodes[i].module,
            nodes[i].serial,
        )
        for i in keep
    )
    order = {label: n for n, label in enumerate(labels)}
    who = tuple(tuple(sorted(readers.get(i, ()), key=order.__getitem__)) for i in keep)
    return EdgeProgram(opset, labels, renumbered, tuple(new[r] for r in results), who)


def _moment_of(node: PNode) -> tuple[int, str, str] | None:
    """(input, axes, statistic) of a node that is a moment of its input, else None."""
    if node.kind == "stat" and node.op == "moment":
        params = dict(node.params)
        return node.args[0], params["over"], params["stat"]
    if node.kind == "prim" and node.module is None and node.op in ("avg_pool", "max_pool"):
        over = _over(dict(node.params))
        if over in ("hw", "c"):
            return node.args[0], over, "mean" if node.op == "avg_pool" else "max"
    return None


def _fuse_moments(program: EdgeProgram) -> EdgeProgram:
    """The moments of each tensor over the same axes as one `moments` node (a `stat`), each
    moment an `item` of it; a lone mean or max stays the plain op it is."""
    groups: dict[tuple[int, str], list[int]] = {}
    for i, node in enumerate(program.nodes):
        found = _moment_of(node)
        if found is not None:
            groups.setdefault(found[:2], []).append(i)
    fused = {
        key: members
        for key, members in groups.items()
        if len(members) > 1 or program.nodes[members[0]].kind == "stat"
    }
    if not fused:
        return program
    group_of = {i: key for key, members in fused.items() for i in members}
    order = {label: n for n, label in enumerate(program.labels)}
    nodes: list[PNode] = []
    readers: list[tuple[str, ...]] = []
    new: dict[int, int] = {}
    at: dict[tuple[int, str], int] = {}
    for i, node in enumerate(program.nodes):
        key = group_of.get(i)
        if key is None:
            args = tuple(new[a] for a in node.args)
            node = PNode(node.kind, node.op, args, node.params, node.module, node.serial)
        else:
            members = fused[key]
            if i == members[0]:
                stats = tuple(_moment_of(program.nodes[m])[2] for m in members)
                params = (("over", key[1]), ("stats", stats))
                nodes.append(PNode("stat", "moments", (new[key[0]],), params))
                who = {r for m in members for r in program.readers[m]}
                readers.append(tuple(sorted(who, key=order.__getitem__)))
                at[key] = len(nodes) - 1
            node = PNode("item", str(members.index(i)), (at[key],))
        nodes.append(node)
        readers.append(program.readers[i])
        new[i] = len(nodes) - 1
    results = tuple(new[r] for r in program.results)
    return EdgeProgram(program.opset, program.labels, tuple(nodes), results, tuple(readers))


# ---- stacking ---------------------------------------------------------------------------
# Convolutions of one input with different kernels are one call: the kernels zero-padded to
# the largest and stacked along the output channels (`stacked_conv2d` and
# `stacked_channel_conv1d` in sedsl/ops/compiled.py). Each candidate keeps its own module and
# weights; only the call is shared. Whatever follows each conv (SASE's per-candidate sigmoid)
# runs on its slice of the stacked output, so no non-linearity is moved.


@dataclass(frozen=True)
class Stack:
    helper: str  # the helper of sedsl/ops/compiled.py that runs the group
    members: tuple[int, ...]  # node ids, in program order
    size: int  # the kernel size all members are padded to


def _const(value) -> int | None:
    if isinstance(value, Dim) and value.is_const:
        return int(value.value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return None


def _stack_key(node: PNode) -> tuple | None:
    """(helper, input, bias) for a conv that can be stacked, with its kernel size; else None."""
    if node.kind != "prim" or node.module is None:
        return None
    p = dict(node.params)
    if node.op == "conv1d":
        k = _const(p.get("k"))
        if k is None or p.get("circular") or k % 2 != 1:
            return None
        return ("stacked_channel_conv1d", node.args[0], bool(p.get("bias"))), k
    if node.op == "conv2d":
        k = p.get("k")
        kh = _const(p["kh"] if isinstance(p.get("kh"), Dim) else k)
        kw = _const(p["kw"] if isinstance(p.get("kw"), Dim) else k)
        if None in (kh, kw) or _const(p.get("groups")) != 1 or _const(p.get("dilation")) != 1:
            return None
        if _const(p.get("stride", 1)) != 1 or p.get("padding") is not None:
            return None  # stacked_conv2d pads 'same' at stride 1: the conv runs on its own
        if _const(p.get("out")) is None or kh % 2 != 1 or kw % 2 != 1:
            return None
        return ("stacked_conv2d", node.args[0], bool(p.get("bias"))), max(kh, kw)
    return None


def same_conv(node: PNode) -> bool:
    """A conv2d with weights at stride 1, 'same' padding and an odd kernel larger than 1x1:
    `same_conv2d` of sedsl/ops/fused.py runs it (its backward as forward convs, where that
    is faster)."""
    if node.kind != "prim" or node.op != "conv2d" or node.module is None:
        return False
    p = dict(node.params)
    k = p.get("k")
    kh = _const(p["kh"] if isinstance(p.get("kh"), Dim) else k)
    kw = _const(p["kw"] if isinstance(p.get("kw"), Dim) else k)
    if None in (kh, kw) or kh % 2 != 1 or kw % 2 != 1 or kh * kw == 1:
        return False
    return _const(p.get("stride", 1)) == 1 and p.get("padding") is None  # groups: at run time


def stacks(program: EdgeProgram) -> list[Stack]:
    """Groups of two or more convolutions of the same input that run as one call."""
    groups: dict[tuple, list[tuple[int, int]]] = {}
    for i, node in enumerate(program.nodes):
        found = _stack_key(node)
        if found is not None:
            groups.setdefault(found[0], []).append((i, found[1]))
    return [
        Stack(key[0], tuple(i for i, _ in members), max(k for _, k in members))
        for key, members in groups.items()
        if len(members) > 1
    ]


# ---- recomputation ----------------------------------------------------------------------
# A supernet keeps every candidate's intermediates for backward: at a SASE squeeze edge a dozen
# maps of the input's size, several times what a plain network keeps. A compiled edge runs its
# candidates under torch.utils.checkpoint instead, so backward recomputes them from the edge's
# input (and what runs once). Recomputing gives the same values to the last bit, and the
# checkpoint restores the RNG state, so dropout draws the same masks.

# primitives whose modules update buffers in forward (BatchNorm's running statistics; GSoP's
# pooling holds a BatchNorm2d): run twice, they would update them twice
_RUNNING_STATS = frozenset({"bn", "cov_pool"})


def run_once(program: EdgeProgram) -> set[int]:
    """Nodes computed once, outside the recomputed part: modules with running statistics,
    calls of modules the compiler does not see into (they may hold some), every node these
    read, and the whole of a conv stack one of them is in (a stack is one call)."""
    roots = [
        i
        for i, node in enumerate(program.nodes)
        if node.kind == "call" or (node.kind == "prim" and node.op in _RUNNING_STATS)
    ]
    groups = {m: stack.members for stack in stacks(program) for m in stack.members}
    once: set[int] = set()
    while roots:
        i = roots.pop()
        if i in once:
            continue
        once.add(i)
        roots.extend(program.nodes[i].args)
        roots.extend(groups.get(i, ()))
    return once


# ---- the block's gating ---------------------------------------------------------------
# A block that returns x * (g_1 + g_2 + ...) * c, gates that broadcast against x (SASE's
# x * (a_ch1 + a_sp) / 2), makes a full-size sum of small gates that autograd keeps for the
# product's backward. `gated_sum` (sedsl/ops/fused.py) keeps x and the gates only.


@dataclass(frozen=True)
class GatedSum:
    x: str  # the full map's Python name
    gates: tuple[str, ...]  # the gates' names
    scale: float


def gated_sum(e: ir.Expr) -> GatedSum | None:
    """e as x * (g_1 + ... + g_k) * scale (any order, constants multiplying or dividing), x a
    full map of e's shape and k >= 2 references whose shapes have a size-1 axis where x has
    none (so their sum, not they, is full size); else None."""
    factors = _factors(e)
    if factors is None:
        return None
    scale = 1.0
    tensors = []
    for f in factors:
        if isinstance(f, float):
            scale *= f
        else:
            tensors.append(f)
    if len(tensors) != 2 or e.shape is None:
        return None
    for x, total in (tensors, tensors[::-1]):
        gates = _terms(total)
        if not isinstance(x, ir.Ref) or x.shape != e.shape or gates is None or len(gates) < 2:
            continue
        if any(d.is_int(1) for d in x.shape[1:]):
            continue
        if all(_broadcasts(g.shape, x.shape) for g in gates):
            return GatedSum(x.py, tuple(g.py for g in gates), scale)
    return None


def _factors(e: ir.Expr) -> list | None:
    """The factors of a product (a constant divisor as its reciprocal), else None."""
    if isinstance(e, ir.Const) and not isinstance(e.value, bool):
        return [float(e.value)]
    if isinstance(e, ir.BinOp) and e.op == "*":
        left, right = _factors(e.left), _factors(e.right)
        return None if left is None or right is None else left + right
    if isinstance(e, ir.BinOp) and e.op == "/" and isinstance(e.right, ir.Const):
        left = _factors(e.left)
        return None if left is None or e.right.value == 0 else [*left, 1.0 / e.right.value]
    return [e]


def _terms(e: ir.Expr) -> list[ir.Ref] | None:
    """The references a sum adds, else None."""
    if isinstance(e, ir.Ref):
        return [e]
    if isinstance(e, ir.BinOp) and e.op == "+":
        left, right = _terms(e.left), _terms(e.right)
        return None if left is None or right is None else left + right
    return None


def _broadcasts(gate: tuple[Dim, ...], full: tuple[Dim, ...]) -> bool:
    """A gate of x's rank, each axis x's or of size 1, at least one of size 1."""
    if len(gate) != len(full):
        return False
    same = all(g == f or g.is_int(1) for g, f in zip(gate, full, strict=True))
    return same and any(g.is_int(1) for g in gate[1:])
