"""What a picture can show on top of the space: a genotype's choice on each edge, and a
search run's final softmax weight of each candidate."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sedsl.language import ir
from sedsl.reasons import read_text_file, reason

# A run's files, as sedsl/search/outputs.py names them (not imported: that pulls in torch).
ALPHAS = "alphas.jsonl"
GENOTYPE = "genotype.json"


class DrawError(Exception):
    """Bad input to `sedsl graph`: a space that does not check, or a genotype or run that
    does not fit it. `code` is the exit status: 1 for errors in the space, 2 for usage."""

    def __init__(self, message: str, code: int = 2, rendered: bool = False):
        super().__init__(message)
        self.code = code
        self.rendered = rendered  # the checker's diagnostics, printed as they are


@dataclass(frozen=True)
class Overlay:
    chosen: dict[str, str] = field(default_factory=dict)  # edge python name -> candidate
    weights: dict[str, tuple[float, ...]] = field(default_factory=dict)  # in candidate order
    candidates: dict[str, tuple[str, ...]] = field(default_factory=dict)


def edge_candidates(space: ir.SpaceIR) -> dict[str, tuple[str, ...]]:
    block = space.block
    return {e.py: tuple(c.label for c in space.opset(e.opset).candidates) for e in block.edges}


def overlay(space: ir.SpaceIR, genotype: str | None, run: Path | None) -> Overlay:
    """The choices of `genotype` (a declared name or a genotype.json) and the weights of
    `run` (a search's run directory); with only a run, its genotype.json's choices."""
    candidates = edge_candidates(space)
    chosen: dict[str, str] = {}
    weights: dict[str, tuple[float, ...]] = {}
    if run is not None:
        weights = _run_weights(space, run, candidates)
        record = run / GENOTYPE
        if genotype is None and record.is_file():
            chosen = _genotype_file(space, record, candidates)
    if genotype is not None:
        if genotype.endswith(".json") or Path(genotype).is_file():
            chosen = _genotype_file(space, Path(genotype), candidates)
        else:
            chosen = _declared(space, genotype)
    return Overlay(chosen, weights, candidates)


def _declared(space: ir.SpaceIR, name: str) -> dict[str, str]:
    for genotype in space.genotypes:
        if genotype.name == name:
            return dict(genotype.choices)
    known = ", ".join(g.name for g in space.genotypes) or "none"
    raise DrawError(
        f"space {space.name} declares no genotype `{name}`; known: {known} "
        "(or give a genotype.json)"
    )


def _read_json(path: Path) -> Any:
    try:
        return json.loads(read_text_file(path))
    except FileNotFoundError:
        raise DrawError(f"{path}: no such file") from None
    except (OSError, json.JSONDecodeError) as err:
        raise DrawError(f"{path}: cannot read it: {reason(err)}") from None


def _same_space(space: ir.SpaceIR, record: dict, path: Path) -> None:
    name, digest = record.get("space"), record.get("source_sha256")
    if name is not None and name != space.name:
        raise DrawError(f"{path} is of space `{name}`, not `{space.name}`")
    if digest and digest != space.source_sha256:
        raise DrawError(
            f"{path} was searched on another version of space `{space.name}` "
            f"(source {digest[:12]}, now {space.source_sha256[:12]})"
        )


def _genotype_file(space: ir.SpaceIR, path: Path, candidates) -> dict[str, str]:
    record = _read_json(path)
    if not isinstance(record, dict) or not isinstance(record.get("genotype"), dict):
        raise DrawError(f"{path}: not a sedsl genotype.json (no `genotype` mapping)")
    _same_space(space, record, path)
    chosen = record["genotype"]
    for edge, choice in chosen.items():
        if choice not in candidates.get(edge, ()):
            raise DrawError(f"{path}: `{edge} = {choice}` is not a candidate of {space.name}")
    return dict(chosen)


def _run_weights(space: ir.SpaceIR, run: Path, candidates) -> dict[str, tuple[float, ...]]:
    if not run.is_dir():
        raise DrawError(f"{run}: not a run directory")
    history = run / ALPHAS
    if history.is_file():
        try:
            text = read_text_file(history)
        except OSError as err:
            raise DrawError(f"{history}: cannot read it: {reason(err)}") from None
        lines = [line for line in text.splitlines() if line]
        if not lines:
            raise DrawError(f"{history} is empty: the run finished no epoch")
        try:
            weights = json.loads(lines[-1])["weights"]
        except (json.JSONDecodeError, KeyError, TypeError):
            raise DrawError(f"{history}: its last line is not an alpha snapshot") from None
        record = run / GENOTYPE
        if record.is_file():
            _same_space(space, _read_json(record), record)
    elif (run / GENOTYPE).is_file():
        record = _read_json(run / GENOTYPE)
        _same_space(space, record, run / GENOTYPE)
        weights = record.get("alphas") if isinstance(record, dict) else None
        if not isinstance(weights, dict):
            raise DrawError(f"{run / GENOTYPE} holds no alphas")
    else:
        raise DrawError(f"{run}: holds neither {ALPHAS} nor {GENOTYPE}: not a search run")
    result = {}
    for edge, names in candidates.items():
        values = weights.get(edge)
        if not isinstance(values, list) or len(values) != len(names):
            raise DrawError(
                f"{run}: the run's weights of edge `{edge}` do not match its "
                f"{len(names)} candidates; is it a run of space {space.name}?"
            )
        result[edge] = tuple(float(v) for v in values)
    return result
