"""The files of a run directory, each rewritten whole (and atomically) from the run's history.

Rewriting from the history that lives in the checkpoint means a resumed run's files never hold
rows from epochs that were computed after the checkpoint it resumed from.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

METRICS = "metrics.csv"
ALPHAS = "alphas.jsonl"
ALPHAS_PLOT = "alphas.png"
GENOTYPE = "genotype.json"
CONFIG = "config.json"
METRIC_COLUMNS = (
    "epoch",
    "train_loss",
    "train_acc",
    "val_loss",
    "val_acc",
    "lr",
    "seconds",
    "alpha_entropy",
)


def path_from(folder: Path, target: Path) -> str:
    """``target`` as recorded in a file of ``folder``: relative to that folder, so the record
    survives a move of the tree that holds both, or absolute when they share only the root."""
    here, there = Path(os.path.abspath(folder)), Path(os.path.abspath(target))
    if os.path.commonpath([here, there]) == there.anchor:
        return str(there)
    return os.path.relpath(there, here)


def resolve_from(folder: Path, recorded: str) -> str:
    """The path ``path_from(folder, ...)`` recorded (an absolute one as it is)."""
    return os.path.normpath(Path(folder) / recorded)


def write_text_atomic(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def write_json(path: Path, value: Any) -> None:
    write_text_atomic(path, json.dumps(value, indent=2, sort_keys=False) + "\n")


def write_metrics(run_dir: Path, rows: Sequence[Mapping[str, float]]) -> None:
    buffer = io.StringIO()
    extra = [name for name in (rows[0] if rows else {}) if name not in METRIC_COLUMNS]
    columns = [*METRIC_COLUMNS, *extra]  # cost-aware runs add cost_expected, cost_chosen
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_text_atomic(run_dir / METRICS, buffer.getvalue())


def write_alpha_history(run_dir: Path, snapshots: Sequence[Mapping[str, Any]]) -> None:
    lines = [json.dumps(snapshot, sort_keys=False) for snapshot in snapshots]
    write_text_atomic(run_dir / ALPHAS, "".join(line + "\n" for line in lines))


def alpha_entropy(snapshot: Mapping[str, Sequence[float]]) -> float:
    """Mean over edges of the softmax weights' entropy (nats): log(n) at start, 0 when sure."""
    entropies = [-sum(p * math.log(p) for p in weights if p > 0) for weights in snapshot.values()]
    return sum(entropies) / max(len(entropies), 1)


def plot_alphas(
    run_dir: Path, snapshots: Sequence[Mapping[str, Any]], candidates: Mapping[str, Sequence[str]]
) -> None:
    """One panel per edge: the softmax weight of each candidate over epochs."""
    if not snapshots:
        return
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    edges = list(candidates)
    columns = min(3, len(edges))
    rows = math.ceil(len(edges) / columns)
    figure, axes = plt.subplots(
        rows, columns, figsize=(4.2 * columns, 3.0 * rows), squeeze=False, sharex=True
    )
    epochs = [snapshot["epoch"] for snapshot in snapshots]
    for axis, edge in zip(axes.flat, edges, strict=False):
        for index, name in enumerate(candidates[edge]):
            axis.plot(epochs, [s["weights"][edge][index] for s in snapshots], label=name)
        axis.set_title(edge)
        axis.set_xlabel("epoch")
        axis.set_ylabel("softmax(alpha)")
        axis.legend(fontsize="x-small")
    for axis in list(axes.flat)[len(edges) :]:
        axis.set_visible(False)
    figure.tight_layout()
    temporary = run_dir / f".{ALPHAS_PLOT}.tmp-{os.getpid()}.png"
    figure.savefig(temporary, dpi=100)
    plt.close(figure)
    os.replace(temporary, run_dir / ALPHAS_PLOT)
