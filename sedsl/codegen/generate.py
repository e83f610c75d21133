"""A checked space -> `generated/<space>/`: ops.py, supernet.py, fixed.py, space.json.

Output is deterministic (no timestamps, sorted where order is free), parsed with `ast`
and formatted with ruff, and written atomically into a directory that carries a marker,
so sedsl never overwrites a directory it did not create.
"""

from __future__ import annotations

import ast as pyast
import json
import os
import shutil
import subprocess
import tempfile
import textwrap
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import jinja2

from sedsl import TEMPLATES_DIR
from sedsl.check.sizes import block_pins, edge_pins
from sedsl.codegen.buffer import edge_buffers, fixed_buffer
from sedsl.codegen.compile import compile_edge, gated_sum
from sedsl.codegen.edge_emit import EdgeClass, edge_body, shared_note
from sedsl.codegen.emit import (
    ClassSpec,
    Emitter,
    candidate_class_name,
    construct_candidate,
    dim_arg_names,
    docstring,
    op_class,
    prim_candidate_class,
    requirement_checks,
)
from sedsl.language import ir
from sedsl.language.names import class_name
from sedsl.shapes.dims import Dim

MARKER = ".sedsl"
MARKER_TEXT = "written by sedsl generate; sedsl may replace this directory\n"
MANIFEST_FORMAT = 1
# how supernet.py runs a searched edge: `compiled` inlines every candidate into one program
# (sedsl/codegen/compile.py); `reference` is DARTS' MixedOp, each candidate a module call
SUPERNETS = ("compiled", "reference")


class GenerateError(Exception):
    """A problem with the output location (not with the space, which is checked first)."""


@dataclass(frozen=True)
class PointDims:
    """The insertion-point dims (`dim Cin = C`) as the generated constructors take them:
    keyword-only arguments after (channels, height, width), passed on to every factory."""

    signature: str = ""  # ", *, cin: int | None = None"
    passing: str = ""  # ", cin=cin"
    args: str = ""  # ", cin" (the factories' extra positional parameters)
    defaults: tuple[str, ...] = ()  # "cin = channels if cin is None else cin"


@dataclass(frozen=True)
class EdgeSpec:
    py: str
    candidates: tuple[tuple[str, str], ...]  # (label, constructor expression)


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    # text from outside the space's checked names (the source path) inside the header's
    # triple-quoted docstring: escaped so that no path can end the literal early
    env.filters["in_docstring"] = in_docstring
    return env


def _runtime_helpers() -> dict[str, str]:
    """Source of each top-level definition of sedsl/ops/runtime.py, read without import."""
    return _helper_sources("runtime.py")


@lru_cache(maxsize=2)
def _helper_sources(filename: str) -> dict[str, str]:
    """Source of each top-level definition of sedsl/ops/<filename>, read without import."""
    path = Path(__file__).resolve().parent.parent / "ops" / filename
    source = path.read_text(encoding="utf-8")
    tree = pyast.parse(source)
    return {
        node.name: pyast.get_source_segment(source, node)
        for node in tree.body
        if isinstance(node, pyast.FunctionDef | pyast.ClassDef)
    }


def _compiled_helpers(classes: list[EdgeClass], block: set[str]) -> list[str]:
    """Source of the helpers of sedsl/ops/compiled.py and fused.py the compiled edges (and the
    `block` names) call, in file order."""
    needed = set().union(block, *(c.body.own for c in classes))
    sources = {**_helper_sources("compiled.py"), **_helper_sources("fused.py")}
    return [sources[name] for name in sources if name in needed]


def render_space(
    space: ir.SpaceIR, supernet: str = "compiled", recompute: bool = False
) -> dict[str, str]:
    """All files of `generated/<space>/`, as text. `supernet` picks how supernet.py runs the
    searched edges (SUPERNETS); ops.py, fixed.py and space.json do not depend on it. With
    `recompute`, compiled edges recompute their candidates in backward instead of keeping
    their intermediates (less memory, more time: not the default)."""
    if supernet not in SUPERNETS:
        raise GenerateError(f"unknown supernet emission {supernet!r}; use one of {SUPERNETS}")
    emitter = Emitter(space)
    op_specs = {op.py_class: op_class(emitter, op) for op in space.ops}
    prim_specs = {
        candidate_class_name(s, c): prim_candidate_class(emitter, s, c)
        for s in space.opsets
        for c in s.candidates
        if c.kind == "prim"
    }
    block_names = dim_arg_names(_block_symbols(space), set())
    point_names = _point_names(space, block_names)
    block_names = {**block_names, **point_names}
    point = _point_dims(emitter, space, block_names, point_names)
    checks = requirement_checks(emitter, block_names)
    check_args = ", ".join(f"{name}: int" for name in block_names.values())
    edges = tuple(_edge_spec(emitter, space, e, point_names) for e in space.block.edges)
    edge_classes = _edge_classes(space, recompute) if supernet == "compiled" else []
    by_edge = {edge: c.name for c in edge_classes for edge in c.edges}
    supernet_block = _block_spec(
        emitter, space, block_names, edge_weights=True, point=point, edge_classes=by_edge
    )
    fixed_block = _block_spec(emitter, space, block_names, edge_weights=False, point=point)
    block_own = _gate_block(supernet_block, space) if supernet == "compiled" else set()
    if checks:
        call = f"check_requirements({', '.join(block_names.values())})"
        # after the point dims' defaults (`cin = channels if cin is None else cin`)
        supernet_block.init_lines.insert(len(point.defaults), call)
        fixed_block.init_lines.insert(len(point.defaults), call)
        for block in (supernet_block, fixed_block):
            _recheck_at_forward(block, space, block_names)
    pins = {e.py: edge_pins(space, e) for e in space.block.edges}
    pins = {edge: labels for edge, labels in pins.items() if labels}
    _guard_size(supernet_block, space, pins, supernet=True)
    _guard_size(fixed_block, space, pins, supernet=False)
    block_helpers = supernet_block.helpers & set(_runtime_helpers())
    block_helpers |= set().union(*(c.body.helpers for c in edge_classes)) if edge_classes else set()
    all_specs = {**op_specs, **prim_specs}
    # runtime helpers the supernet block calls itself (e.g. tile_broadcast outside an edge):
    # ops.py defines them and supernet.py imports them from there
    ops_classes = _ordered(all_specs, set(all_specs))
    # fixed.py builds any genotype (a search's result too), so it carries every candidate
    fixed_classes = ops_classes
    files = {
        "__init__.py": _render("__init__.py.j2", space=space),
        "ops.py": _render(
            "ops.py.j2",
            space=space,
            classes=ops_classes,
            helpers=_helpers(ops_classes + [supernet_block]),
        ),
        "supernet.py": _render(
            "supernet.py.j2",
            space=space,
            imports=sorted(set(all_specs) | block_helpers),
            edges=edges,
            pins=pins,
            block=supernet_block,
            checks=checks,
            check_args=check_args,
            point=point,
            edge_classes=edge_classes,
            compiled_helpers=_compiled_helpers(edge_classes, block_own),
            checkpoint=any(c.body.mixed_lines for c in edge_classes),
        ),
        "fixed.py": _render(
            "fixed.py.j2",
            space=space,
            classes=fixed_classes,
            helpers=_helpers(fixed_classes + [fixed_block]),
            edges=edges,
            pins=pins,
            block=fixed_block,
            checks=checks,
            check_args=check_args,
            point=point,
            genotypes=[_genotype_view(space, g) for g in space.genotypes],
            externs={op.name: op.extern.target for op in space.ops if op.extern is not None},
        ),
    }
    files = {name: format_python(text, name) for name, text in files.items()}
    files["space.json"] = manifest(space)
    return files


def in_docstring(text: str) -> str:
    """`text` escaped to sit inside a triple-quoted (non-raw) string literal unchanged."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return "".join(ch if ch.isprintable() or ch == "\n" else repr(ch)[1:-1] for ch in escaped)


def _render(template: str, **context) -> str:
    return _environment().get_template(template).render(**context)


def _block_symbols(space: ir.SpaceIR) -> tuple[str, ...]:
    return tuple(str(d) for d in space.block.input[1:] if len(d.terms) == 1 and d.symbols())


def _point_names(space: ir.SpaceIR, block_names: dict[str, str]) -> dict[str, str]:
    taken = {*block_names.values(), "genotype", "alphas", "self"}
    return dim_arg_names(tuple(d.name for d in space.point_dims), taken)


def _point_dims(emitter, space: ir.SpaceIR, names, point_names) -> PointDims:
    if not space.point_dims:
        return PointDims()
    signature, defaults = [], []
    for d in space.point_dims:
        arg = point_names[d.name]
        if d.default is None:
            signature.append(f"{arg}: int")
        else:
            signature.append(f"{arg}: int | None = None")
            default = emitter.dim(d.default, names)
            defaults.append(f"{arg} = {default} if {arg} is None else {arg}  # dim {d.name}")
    args = [point_names[d.name] for d in space.point_dims]
    return PointDims(
        signature=", *, " + ", ".join(signature),
        passing="".join(f", {a}={a}" for a in args),
        args="".join(f", {a}" for a in args),
        defaults=tuple(defaults),
    )


def _edge_spec(emitter, space, edge: ir.EdgeIR, point_names: dict[str, str]) -> EdgeSpec:
    """Each candidate's constructor in terms of the factory's (channels, height, width),
    which the block passes sized for this edge's input, and the insertion-point dims."""
    opset = space.opset(edge.opset)
    symbols = [str(d) for d in opset.input[1:]]
    names = {s: n for s, n in zip(symbols, ("channels", "height", "width"), strict=False)}
    names.update(point_names)
    ctors = tuple(
        (c.label, construct_candidate(emitter, opset, c, opset.input, names))
        for c in opset.candidates
    )
    return EdgeSpec(edge.py, ctors)


def _full_map(shape: tuple[Dim, ...]) -> bool:
    """Whether an edge's input is a full feature map (no axis of size 1, e.g. not SASE's
    [B, C, 1, 1] descriptor or [B, 1, H, W] map): only there do the candidates keep enough
    for backward to be worth recomputing; elsewhere recomputing costs time and saves little."""
    return not any(d.is_int(1) for d in shape[1:])


def _edge_classes(space: ir.SpaceIR, recompute: bool) -> list[EdgeClass]:
    """One compiled class per distinct edge program (edges of one op set on inputs of the
    same kind share one), named after the op set."""
    classes: dict[tuple, EdgeClass] = {}
    for edge in space.block.edges:
        program = compile_edge(space, edge)
        body = edge_body(program, recompute and _full_map(edge.input))
        key = (edge.opset, tuple(body.forward_lines), tuple(body.mixed_lines), body.returns)
        if key not in classes:
            taken = sum(1 for k in classes if k[0] == edge.opset)
            name = class_name(f"{edge.opset}_edge" + (f"_{taken + 1}" if taken else ""))
            doc = docstring(
                f"Op set `{edge.opset}` compiled (sedsl/codegen/compile.py): the candidates "
                "inlined into one program over the input, then mixed as MixedOp does. "
                + shared_note(program)
            )
            classes[key] = EdgeClass(name, doc, body)
        classes[key].edges.append(edge.py)
    return list(classes.values())


def _block_spec(
    emitter: Emitter,
    space: ir.SpaceIR,
    names,
    edge_weights: bool,
    point: PointDims,
    edge_classes: dict[str, str] | None = None,
) -> ClassSpec:
    block = space.block
    spec = ClassSpec(
        name=class_name(block.name) + ("Supernet" if edge_weights else "Block"),
        doc=docstring(block.doc or f"The `{block.name}` block of space `{space.name}`."),
        init_args=[],
        init_lines=[],
        forward_args=[f"{block.graph.inputs[0][0]}: Tensor"],
        forward_lines=[],
        returns="",
    )
    emitter.edge_weights = edge_weights
    emitter.graph_body(block.graph, names, spec, owner=f"block `{block.name}`")
    edge_lines = []
    for edge in block.edges:
        dims = ", ".join(emitter.dim(d, names) for d in edge.input[1:]) + point.args
        if edge_weights:
            mixed = (edge_classes or {}).get(edge.py, "MixedOp")
            edge_lines.append(
                f"self.{edge.py} = {mixed}([factory({dims}) for factory in "
                f'CANDIDATE_FACTORIES["{edge.py}"].values()])'
            )
        else:
            edge_lines.append(
                f'self.{edge.py} = CANDIDATE_FACTORIES["{edge.py}"][genotype["{edge.py}"]]({dims})'
            )
    spec.init_lines = [*point.defaults, *edge_lines, *spec.init_lines]
    return spec


def _gate_block(spec: ClassSpec, space: ir.SpaceIR) -> set[str]:
    """A compiled supernet block returning x * (sum of small gates) * c returns it by
    `gated_sum` (compile.gated_sum), which keeps x and the gates for backward, not their
    full-size sum; the helpers it needs."""
    gate = gated_sum(space.block.graph.output)
    if gate is None:
        return set()
    text = (
        f"{spec.returns}, fused: the sum of the gates {', '.join(gate.gates)} is full size, so "
        f"autograd would keep it for backward; gated_sum keeps {gate.x} and the small gates "
        "and forms it again there (sedsl/ops/fused.py)"
    )
    spec.forward_lines += [f"# {line}" for line in textwrap.wrap(text, 86)]
    spec.returns = f"gated_sum({gate.x}, ({', '.join(gate.gates)}), {gate.scale!r})"  # k >= 2
    return {"GatedSum", "_scaled_sum", "gated_sum"}


def _recheck_at_forward(spec: ClassSpec, space: ir.SpaceIR, names: dict[str, str]) -> None:
    """A `require` clause on H or W holds at the built size but the block runs at any size:
    re-check the clauses at forward, only when the input's size is not the last checked one."""
    h, w = (str(d) for d in space.block.input[2:4])
    if h not in names or w not in names:
        return
    if not any({h, w} & (r.lhs.symbols() | r.rhs.symbols()) for r in space.requirements):
        return
    x = space.block.graph.inputs[0][0]
    dims = ", ".join(f'"{name}": {name}' for name in names.values())
    spec.init_lines += [f"self.dims = {{{dims}}}", f"self.checked_size = ({names[h]}, {names[w]})"]
    spec.forward_lines[:0] = [
        f"if tuple({x}.shape[-2:]) != self.checked_size:",
        f'    check_requirements(**{{**self.dims, "{names[h]}": {x}.shape[-2], '
        f'"{names[w]}": {x}.shape[-1]}})',
        f"    self.checked_size = tuple({x}.shape[-2:])",
    ]


def _guard_size(spec: ClassSpec, space: ir.SpaceIR, pins: dict, supernet: bool) -> None:
    """A block holding an op whose weights are shaped by H or W refuses another input size
    (the ops follow from sedsl/check/sizes.py; PINS_SIZE lists the pinning candidates)."""
    fixed_part = block_pins(space)
    if not pins and fixed_part is None:
        return
    extra = f"[{fixed_part!r}] + " if fixed_part else ""
    if not pins:  # only the block's fixed part pins the size; no PINS_SIZE is emitted
        chosen = "[]"
    elif supernet:  # every candidate runs
        chosen = "[why for labels in PINS_SIZE.values() for why in labels.values()]"
    else:
        chosen = (
            "[PINS_SIZE[edge][label] for edge, label in genotype.items() "
            "if label in PINS_SIZE.get(edge, {})]"
        )
    spec.init_lines += ["self.size = (height, width)", f"self.pinned_by = {extra}{chosen}"]
    x = space.block.graph.inputs[0][0]
    spec.forward_lines.insert(0, f"check_size(self.pinned_by, self.size, {x})")
    spec.helpers.add("check_size")


def _ordered(specs: dict[str, ClassSpec], keep: set[str]) -> list[ClassSpec]:
    """Classes sorted by name, each after the classes it uses (for readability)."""
    order: list[ClassSpec] = []
    placed: set[str] = set()

    def place(name: str) -> None:
        if name in placed or name not in keep:
            return
        placed.add(name)
        for dep in sorted(specs[name].uses):
            place(dep)
        order.append(specs[name])

    for name in sorted(keep):
        place(name)
    return order


def _helpers(classes: list[ClassSpec]) -> list[str]:
    needed = set().union(*(c.helpers for c in classes)) if classes else set()
    sources = _runtime_helpers()
    return [sources[name] for name in sources if name in needed]


def extern_ops_in(space: ir.SpaceIR, op_name: str) -> set[str]:
    """The extern ops that op `op_name` is or calls, directly or through composite ops."""
    op = space.op(op_name)
    if op.extern is not None:
        return {op.name}
    found: set[str] = set()
    for m in op.graph.modules:
        if m.kind == "op":
            found |= extern_ops_in(space, m.target)
    return found


def _manifest_externs(space: ir.SpaceIR) -> dict:
    """Per extern op: the code it imports, and where it is used (the block's fixed part, or
    which candidates of which edges), so that export can say what a genotype needs."""
    in_block: set[str] = set()
    for m in space.block.graph.modules:
        if m.kind == "op":
            in_block |= extern_ops_in(space, m.target)
    result = {}
    for op in space.ops:
        if op.extern is None:
            continue
        edges = {}
        for e in space.block.edges:
            labels = [
                c.label
                for c in space.opset(e.opset).candidates
                if c.kind == "op" and op.name in extern_ops_in(space, c.op)
            ]
            if labels:
                edges[e.py] = labels
        result[op.name] = {"target": op.extern.target, "block": op.name in in_block, "edges": edges}
    return result


def _genotype_view(space: ir.SpaceIR, g: ir.GenotypeIR) -> dict:
    return {
        "name": g.name,
        "py_class": class_name(f"{space.block.name}_{g.name}"),
        "doc": docstring(g.doc or f"Genotype `{g.name}` of space `{space.name}`."),
        "choices": g.choices,
    }


# ---- formatting and manifest -----------------------------------------------------------


def format_python(text: str, name: str) -> str:
    """Check that the text is Python, then format it with ruff (as the project is)."""
    try:
        pyast.parse(text)
    except SyntaxError as exc:  # a generator bug, never user input
        raise GenerateError(f"internal error: generated {name} does not parse: {exc}") from exc
    ruff = _ruff()
    result = subprocess.run(
        [ruff, "format", *RUFF_SETTINGS, "--stdin-filename", name, "-"],
        input=text,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise GenerateError(f"ruff could not format {name}: {result.stderr.strip()}")
    fixed = subprocess.run(
        [
            ruff,
            "check",
            *RUFF_SETTINGS,
            "--fix",
            "--select",
            "I,F401",
            "--stdin-filename",
            name,
            "-",
        ],
        input=result.stdout,
        capture_output=True,
        text=True,
        check=False,
    )
    return fixed.stdout if fixed.stdout else result.stdout


# the project's ruff settings (pyproject.toml), passed explicitly so that output is the same
# from any folder, whatever ruff configuration the user's own project has
RUFF_SETTINGS = ("--isolated", "--line-length", "100", "--target-version", "py310")


@lru_cache(maxsize=1)
def _ruff() -> str:
    """The ruff binary (a dependency of sedsl): the one its Python package ships, else PATH."""
    try:
        from ruff.__main__ import find_ruff_bin

        return os.fsdecode(find_ruff_bin())
    except (ImportError, FileNotFoundError):
        pass
    found = shutil.which("ruff")
    if found is None:
        raise GenerateError(
            "cannot format the generated code: ruff is not installed (pip install ruff)"
        )
    return found


def manifest(space: ir.SpaceIR) -> str:
    opsets = {s.name: s for s in space.opsets}
    data = {
        "format": MANIFEST_FORMAT,
        "space": space.name,
        "doc": space.doc,
        "source": space.source,
        "source_sha256": space.source_sha256,
        "params": {p.name: p.value for p in space.params},
        "input": [str(d) for d in space.block.input],
        # dims beyond the input's that each insertion point gives the block (`dim Cin = C`),
        # with the keyword of build_fixed / SupernetBlock that takes each, and its default
        **({"dims": _manifest_dims(space)} if space.point_dims else {}),
        "edges": [
            {
                "name": e.py,
                "display": e.name,
                "opset": e.opset,
                "input": [str(d) for d in e.input],
                "candidates": [c.label for c in opsets[e.opset].candidates],
                # minimum pipeline buffer per candidate (TSE section 3.2), in elements per
                # sample, over the block's input symbols; `sedsl cost` evaluates these
                "buffer": edge_buffers(space, e),
            }
            for e in space.block.edges
        ],
        # the block's buffer: the max of this (its fixed part) and each edge's choice
        "buffer": {"fixed": fixed_buffer(space), "combine": "max"},
        "genotypes": {g.name: dict(g.choices) for g in space.genotypes},
        # the users' own ops: the code each imports when a block is built, and its uses
        **({"extern": externs} if (externs := _manifest_externs(space)) else {}),
        "points": {ps.name: [dict(p) for p in ps.points] for ps in space.point_sets},
        "recipe": dict(space.recipe),
    }
    return json.dumps(data, indent=2) + "\n"


def _manifest_dims(space: ir.SpaceIR) -> list[dict]:
    names = _point_names(space, dim_arg_names(_block_symbols(space), set()))
    return [
        {
            "name": d.name,
            "arg": names[d.name],
            "default": None if d.default is None else str(d.default),
            "doc": d.doc,
        }
        for d in space.point_dims
    ]


# ---- writing --------------------------------------------------------------------------


def write_space(files: dict[str, str], out_dir: Path, name: str) -> Path:
    """Atomically replace `out_dir/name` with `files` (temp dir, then rename)."""
    target = out_dir / name
    if target.exists() and not (target / MARKER).is_file():
        raise GenerateError(
            f"refusing to overwrite {target}: it was not created by sedsl (no {MARKER} marker)"
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=out_dir))
    try:
        for filename, text in files.items():
            (staging / filename).write_text(text, encoding="utf-8")
        (staging / MARKER).write_text(MARKER_TEXT, encoding="utf-8")
        if target.exists():
            old = out_dir / f".{name}.old.{os.getpid()}"
            os.replace(target, old)
            os.replace(staging, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(staging, target)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return target


def stale_files(files: dict[str, str], target: Path) -> list[str]:
    """Files that differ between the rendered output and what is on disk."""
    stale = []
    for filename, text in sorted(files.items()):
        path = target / filename
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            stale.append(str(path))
    if target.is_dir():
        for path in sorted(target.iterdir()):
            if path.is_file() and path.name not in files and path.name != MARKER:
                stale.append(f"{path} (not generated)")
    return stale
