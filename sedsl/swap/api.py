"""`sedsl swap`: every SE of a torchvision network replaced by a genotype of a space.

The TSE paper's deployment story (seed 002, sections 3.3 and 4.3): train an SE network once,
then swap its SE blocks for TSE, weights carried over, and evaluate or fine-tune. Each slot's
replacement is built by the generated space's `build_fixed` with the dimensions measured at
that slot (`slots.py`); SE's weights go into it where the shapes allow (`carry.py`).

A swapped network is written as a directory (docs/tse.md):

    swap.json   what was swapped: backbone, space, genotype, input size, the per-slot report
    model.pt    the swapped network's state dict (torch.save, weights_only-loadable)

`load_swapped(dir)` rebuilds it from the two files: torchvision's builder, the same swap
with fresh blocks, then the state dict. `finetune.finetune(DIR, ...)` fine-tunes it (Python
only: `sedsl train` does not take a swap directory), `sedsl evaluate` scores it,
`sedsl export DIR/swap.json` writes its block as a standalone module.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from sedsl.reasons import read_text_file, reason

from .carry import CarryError, SlotCarry, carry_weights
from .slots import Slot, measure_slots, se_modules
from .zoo import ZooError, load_weights, se_network

SWAP_FORMAT = 1
SWAP_JSON = "swap.json"
MODEL_PT = "model.pt"


class SwapError(Exception):
    """A problem the user can fix: unknown backbone or genotype, weights that do not fit."""


@dataclass(frozen=True)
class SlotReport:
    name: str
    stage: str
    dims: dict[str, int]
    swapped: bool  # False where --stages left the SE in place
    status: str  # carried | fresh | kept (SE left in place)
    carried: list[dict[str, Any]]
    reason: str = ""


@dataclass
class Swapped:
    backbone: str
    input_size: int
    num_classes: int
    space_name: str
    space_dir: str
    source_sha256: str
    genotype_name: str
    genotype: dict[str, str]
    weights: str | None
    model: nn.Module
    slots: list[SlotReport]

    def record(self) -> dict[str, Any]:
        """swap.json: readable as a genotype.json too (space_dir, genotype, source_sha256)."""
        return {
            "format": SWAP_FORMAT,
            "kind": "sedsl-swap",
            "backbone": self.backbone,
            "input_size": self.input_size,
            "num_classes": self.num_classes,
            "space": self.space_name,
            "space_dir": self.space_dir,
            "source_sha256": self.source_sha256,
            "genotype_name": self.genotype_name,
            "genotype": dict(self.genotype),
            "weights": self.weights,
            "slots": [asdict(s) for s in self.slots],
        }


def swap(
    backbone: str,
    space_dir: str | Path,
    genotype: str | Mapping[str, Any],
    *,
    weights: str | Path | None = None,
    input_size: int | None = None,
    num_classes: int = 1000,
    stages: Sequence[str] | None = None,
    allow_fresh: bool = False,
    original: nn.Module | None = None,
) -> Swapped:
    """Swap the SE modules of `backbone` (or of `original`, which is left untouched).

    `weights` is a local state dict of the torchvision network (its own .pth files load
    unchanged); without it the network keeps its random initialisation. `stages` limits the
    swap to some stages (Table 3: "block3", "features.6"); the others keep their SE.
    """
    from sedsl.search.errors import SearchError

    try:
        network = se_network(backbone)
    except ZooError as exc:
        raise SwapError(str(exc)) from exc
    size = network.paper_size if input_size is None else int(input_size)
    if size < 32:
        raise SwapError(f"--input-size {size}: too small for {network.name} (32 or more)")
    try:
        space, choices, genotype_name = resolve_genotype(space_dir, genotype)
    except SearchError as exc:
        raise SwapError(str(exc)) from exc
    if original is None:
        original = network.build(num_classes)
        if weights is not None:
            try:
                load_weights(original, str(weights), network.name)
            except ZooError as exc:
                raise SwapError(str(exc)) from exc
    model = copy.deepcopy(original)
    slots = measure_slots(network.name, size, num_classes)
    wanted = _check_stages(stages, slots, network.name)
    modules = dict(model.named_modules())
    reports = []
    for slot in slots:
        if wanted is not None and slot.stage not in wanted:
            reports.append(SlotReport(slot.name, slot.stage, dict(slot.dims), False, "kept", []))
            continue
        se = modules[slot.name]
        try:
            block = build_slot_block(space, choices, slot, network.name)
            carry = carry_weights(slot.name, se, block, allow_fresh=allow_fresh)
        except (SearchError, CarryError) as exc:
            raise SwapError(str(exc)) from exc
        replace_module(model, slot.name, block.to(_dtype_of(se)))
        reports.append(_report(slot, carry))
    return Swapped(
        backbone=network.name,
        input_size=size,
        num_classes=num_classes,
        space_name=space.name,
        space_dir=str(space.path),
        source_sha256=space.source_sha256,
        genotype_name=genotype_name,
        genotype=dict(choices),
        weights=None if weights is None else str(weights),
        model=model,
        slots=reports,
    )


def build_slot_block(space, choices, slot: Slot, backbone: str) -> nn.Module:
    """The genotype's block at `slot`, given every dimension the space names."""
    c, h, w = slot.shape
    extra = space.dim_kwargs(slot.dims, f"{backbone} at {slot.name}")
    return space.fixed.build_fixed(choices, c, h, w, **extra)


def resolve_genotype(space_dir: str | Path, genotype: str | Mapping[str, Any]):
    """(space, choices, name) for a declared genotype, a genotype.json or such a record."""
    from sedsl.search.errors import SearchError
    from sedsl.search.export import check_genotype, read_genotype
    from sedsl.search.space import load_space

    space = load_space(space_dir)
    if isinstance(genotype, Mapping):
        check_genotype(dict(genotype), space)
        return space, dict(genotype["genotype"]), str(genotype.get("name", "custom"))
    if str(genotype).endswith(".json"):
        record = read_genotype(genotype)
        check_genotype(record, space)
        return space, dict(record["genotype"]), str(genotype)
    declared = space.fixed.GENOTYPES
    if genotype not in declared:
        raise SearchError(
            f"space {space.name} declares no genotype {genotype!r}; "
            f"known: {', '.join(declared) or 'none'} (or give a genotype.json)"
        )
    return space, dict(declared[genotype]), genotype


# ---- the swap directory -----------------------------------------------------------------


def save_swapped(result: Swapped, out_dir: str | Path) -> Path:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.save(result.model.state_dict(), out / MODEL_PT)
    (out / SWAP_JSON).write_text(json.dumps(result.record(), indent=2) + "\n", encoding="utf-8")
    return out


def read_swap_record(path: str | Path) -> dict[str, Any]:
    """swap.json of a swap directory (or the file itself)."""
    path = Path(path)
    file = path / SWAP_JSON if path.is_dir() else path
    try:
        record = json.loads(read_text_file(file))
    except (OSError, json.JSONDecodeError) as exc:
        raise SwapError(f"{file}: cannot read the swap record: {reason(exc)}") from exc
    if not isinstance(record, dict) or record.get("kind") != "sedsl-swap":
        raise SwapError(f"{file}: not a swap record written by `sedsl swap`")
    if record.get("format") != SWAP_FORMAT:
        raise SwapError(f"{file}: swap format {record.get('format')}, expected {SWAP_FORMAT}")
    return record


def load_swapped(path: str | Path) -> tuple[nn.Module, dict[str, Any]]:
    """The swapped network of a swap directory, with its swap.json record."""
    root = Path(path)
    record = read_swap_record(root)
    root = root if root.is_dir() else root.parent
    stages = sorted({s["stage"] for s in record["slots"] if s["swapped"]})
    rebuilt = swap(
        record["backbone"],
        record["space_dir"],
        {
            "name": record["genotype_name"],
            "genotype": record["genotype"],
            "source_sha256": record["source_sha256"],
        },
        input_size=record["input_size"],
        num_classes=record["num_classes"],
        stages=stages,
        allow_fresh=True,
    )
    try:
        state = torch.load(root / MODEL_PT, map_location="cpu", weights_only=True)
        rebuilt.model.load_state_dict(state)
    except (OSError, RuntimeError, EOFError) as exc:
        raise SwapError(f"{root / MODEL_PT}: cannot load the swapped weights: {exc}") from exc
    return rebuilt.model, record


# ---- helpers -----------------------------------------------------------------------------


def _check_stages(stages, slots: list[Slot], backbone: str) -> set[str] | None:
    if not stages:
        return None
    known = list(dict.fromkeys(s.stage for s in slots))
    unknown = [s for s in stages if s not in known]
    if unknown:
        raise SwapError(
            f"{backbone} has no stage {', '.join(unknown)}; its stages are {', '.join(known)}"
        )
    return set(stages)


def replace_module(model: nn.Module, path: str, block: nn.Module) -> None:
    parent_path, _, attribute = path.rpartition(".")
    parent = model.get_submodule(parent_path) if parent_path else model
    setattr(parent, attribute, block)


def _dtype_of(module: nn.Module) -> torch.dtype:
    return next((p.dtype for p in module.parameters()), torch.float32)


def _report(slot: Slot, carry: SlotCarry) -> SlotReport:
    return SlotReport(
        slot.name,
        slot.stage,
        dict(slot.dims),
        True,
        carry.status,
        [asdict(c) for c in carry.tensors],
        carry.reason,
    )


def render_report(result: Swapped) -> str:
    lines = [
        f"{result.backbone}: {sum(s.swapped for s in result.slots)} of {len(result.slots)} SE "
        f"slots swapped for {result.space_name} / {result.genotype_name} at "
        f"{result.input_size}x{result.input_size}"
        + (f", weights from {result.weights}" if result.weights else ", random weights"),
        "",
        f"{'slot':<40} {'C':>5} {'H':>4} {'W':>4} {'Cin':>5}  what",
    ]
    for s in result.slots:
        d = s.dims
        if s.status == "carried":
            what = "carried " + ", ".join(
                f"{c['source']} {'x'.join(map(str, c['shape']))}" for c in s.carried
            )
        elif s.status == "fresh":
            what = f"fresh ({s.reason})"
        else:
            what = "SE kept"
        lines.append(
            f"{s.name:<40} {d['C']:>5} {d['H']:>4} {d['W']:>4} {d.get('Cin', 0):>5}  {what}"
        )
    return "\n".join(lines) + "\n"


__all__ = [
    "SwapError",
    "Swapped",
    "load_swapped",
    "read_swap_record",
    "render_report",
    "save_swapped",
    "se_modules",
    "swap",
]
