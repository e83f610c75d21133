"""`sedsl cost`: parameters, MACs and pipeline buffer of a genotype inside a backbone.

Puts the pieces together: the generated space (its fixed.py builds the block, its
space.json carries the buffer expressions), the backbone with the block at every
insertion point (network.py), then params.py, macs.py and buffer.py measure. Rendering
(text table, JSON) lives here too; the CLI only calls `cost` and one renderer.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

MIB = 2**20
MACS_NOTE = (
    "MACs = FLOPs / 2 from torch.utils.flop_counter.FlopCounterMode, one forward at batch 1; "
    "convolutions, linear layers and matmuls only (pooling, norms, activations and "
    "elementwise products are not counted)"
)
BUFFER_NOTE = (
    "minimum pipeline buffer (TSE section 3.2): h x w x C per h x w tile, H x W x C for global "
    "pooling; per block the max over its poolings, summed over the insertion points"
)


class CostError(Exception):
    """Bad input to `sedsl cost`: a path, genotype or backbone that does not exist."""


@dataclass
class PointCost:
    C: int
    H: int
    W: int
    params: int
    macs: int
    buffer_elements: int
    dims: dict[str, int] = field(default_factory=dict)  # every dim the point provides


@dataclass
class Totals:
    params: int
    macs: int


@dataclass
class AttentionTotals:
    params: int
    macs: int
    buffer_elements: int
    buffer_2_20: float  # buffer_elements / 2^20, the paper's unit ("M"), two decimals
    blocks: int


@dataclass
class CostReport:
    space: str
    genotype: str
    choices: dict[str, str]
    backbone: str
    input_size: int
    num_classes: int
    attention: AttentionTotals
    network: Totals
    # the backbone without the block (an SE network: its SE removed): network - attention
    plain: Totals
    points: list[PointCost] = field(default_factory=list)
    notes: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def cost(
    space_dir: str | Path,
    genotype: str,
    backbone: str,
    input_size: int | None = None,
    num_classes: int | None = None,
) -> CostReport:
    from sedsl.cost.buffer import ManifestError, block_buffer
    from sedsl.cost.macs import count_macs
    from sedsl.cost.network import (
        BackboneError,
        build_network,
        canonical_backbone,
        default_input_size,
        default_num_classes,
    )
    from sedsl.cost.params import count_params
    from sedsl.search.errors import SearchError

    space, choices = _resolve(space_dir, genotype)
    try:
        backbone = canonical_backbone(backbone)
    except BackboneError as exc:
        raise CostError(str(exc)) from exc
    size = default_input_size(backbone) if input_size is None else input_size
    classes = default_num_classes(backbone) if num_classes is None else num_classes
    if size < 1 or classes < 1:
        raise CostError("--input-size and --num-classes must be positive")

    def factory(dims):
        extra = space.dim_kwargs(dims, f"backbone {backbone}")
        return space.fixed.build_fixed(choices, dims["C"], dims["H"], dims["W"], **extra)

    try:
        net = build_network(backbone, factory, size, classes)
    except BackboneError as exc:
        raise CostError(str(exc)) from exc
    except SearchError as exc:  # a dim the space names and the backbone does not provide
        raise CostError(str(exc)) from exc
    except (RuntimeError, ValueError) as exc:  # e.g. an input too small for the backbone
        raise CostError(f"cannot build {backbone} at {size}x{size}: {exc}") from exc
    # parameters first: count_macs moves the modules to the meta device
    network_params = count_params(net.model)
    block_params = [count_params(block) for _, block in net.blocks]
    try:
        buffers = [block_buffer(space.manifest, choices, dims) for dims, _ in net.blocks]
    except ManifestError as exc:
        raise CostError(f"{space.path}: {exc}") from exc
    network_macs = count_macs(net.model, (1, 3, size, size))
    points = [
        PointCost(
            dims["C"],
            dims["H"],
            dims["W"],
            params=n,
            macs=count_macs(block, (1, dims["C"], dims["H"], dims["W"])),
            buffer_elements=b,
            dims=dict(dims),
        )
        for (dims, block), n, b in zip(net.blocks, block_params, buffers, strict=True)
    ]
    attention = AttentionTotals(
        params=sum(p.params for p in points),
        macs=sum(p.macs for p in points),
        buffer_elements=sum(buffers),
        buffer_2_20=round(sum(buffers) / MIB, 2),
        blocks=len(points),
    )
    return CostReport(
        space=space.name,
        genotype=str(genotype),
        choices=dict(choices),
        backbone=backbone,
        input_size=size,
        num_classes=classes,
        attention=attention,
        network=Totals(network_params, network_macs),
        # the blocks are the only difference, and both counts are additive over modules
        plain=Totals(network_params - attention.params, network_macs - attention.macs),
        points=points,
        notes={"macs": MACS_NOTE, "buffer": BUFFER_NOTE},
    )


def _resolve(space_dir: str | Path, genotype: str):
    """The loaded space and the genotype's choices: a declared name or a genotype.json."""
    from sedsl.search.errors import SearchError
    from sedsl.search.export import check_genotype, read_genotype
    from sedsl.search.space import load_space

    try:
        space = load_space(space_dir)
        if str(genotype).endswith(".json"):
            record = read_genotype(genotype)
            check_genotype(record, space)
            return space, dict(record["genotype"])
    except SearchError as exc:
        raise CostError(str(exc)) from exc
    declared = space.fixed.GENOTYPES
    if genotype not in declared:
        raise CostError(
            f"space {space.name} declares no genotype {genotype!r}; "
            f"known: {', '.join(declared) or 'none'} (or give a genotype.json)"
        )
    return space, dict(declared[genotype])


# ---- rendering ----------------------------------------------------------------------------


def render_json(report: CostReport) -> str:
    return json.dumps(report.to_dict(), indent=2) + "\n"


def render_text(report: CostReport) -> str:
    a, n, p = report.attention, report.network, report.plain
    lines = [
        f"{report.space} / {report.genotype} in {report.backbone} at "
        f"{report.input_size}x{report.input_size}, {a.blocks} blocks",
        "",
        f"{'':<10} {'params':>14} {'MACs':>16} {'buffer (elements)':>18} {'buffer (2^20)':>14}",
        f"{'attention':<10} {a.params:>14,} {a.macs:>16,} {a.buffer_elements:>18,} "
        f"{a.buffer_2_20:>14.2f}",
        f"{'network':<10} {n.params:>14,} {n.macs:>16,}",
        f"{'plain':<10} {p.params:>14,} {p.macs:>16,}",
        "",
        f"{'C':>6} {'H':>5} {'W':>5} {'params':>12} {'MACs':>14} {'buffer':>12}",
    ]
    lines += [
        f"{q.C:>6} {q.H:>5} {q.W:>5} {q.params:>12,} {q.macs:>14,} {q.buffer_elements:>12,}"
        for q in report.points
    ]
    lines += ["", f"MACs: {MACS_NOTE}.", f"buffer: {BUFFER_NOTE}."]
    return "\n".join(lines) + "\n"
