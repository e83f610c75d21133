"""``sedsl sweep``: one cost-aware search per cost weight, then accuracy against cost.

Each weight gets its own run directory under ``out`` (``w0_0``, ``w1_0.001``, ...), searched with
``run_search``; the chosen genotype of each is then priced by ``sedsl cost`` (sedsl/cost/report.py)
in a named backbone at its standard input (``cost_backbone``, default resnet20 at 32 x 32), and
optionally trained from scratch (``train_epochs``). ``sweep.csv`` holds one row per weight and
``sweep.png`` plots accuracy against the swept cost.

Accuracy is the trained network's test accuracy when ``train_epochs > 0``, else the supernet's
accuracy on the architecture half at the last search epoch (``search_val_acc``), which measures
the search, not the chosen architecture alone.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from . import outputs
from .api import run_search
from .cost import COST_KINDS
from .errors import SearchError

SWEEP_CSV = "sweep.csv"
SWEEP_PNG = "sweep.png"
MIB = 2**20


@dataclass(frozen=True)
class SweepRow:
    weight: float
    genotype: str  # "edge=candidate ..." in edge order
    search_val_acc: float
    test_acc: float | None  # None unless the genotype was trained
    cost: str
    cost_chosen_search: float  # the swept cost in the searched network (metrics.csv's cost_chosen)
    cost_expected_search: float  # its expectation under the final alphas (cost_expected)
    backbone: str
    params: int
    macs: int
    buffer_elements: int
    buffer_2_20: float
    run_dir: str


def parse_weights(text: str | Sequence[float]) -> list[float]:
    """``"0,1e-3,1e-2"`` (or a list) to floats; each non-negative, no duplicates."""
    items = text.split(",") if isinstance(text, str) else list(text)
    try:
        weights = [float(item) for item in items if str(item).strip()]
    except ValueError as err:
        raise SearchError(f"cost weights: {err}; give them as 0,1e-3,1e-2") from err
    if not weights:
        raise SearchError("a sweep needs at least one cost weight, e.g. --cost-weight 0,1e-3,1e-2")
    if any(not w >= 0 for w in weights):
        raise SearchError(f"cost weights must not be negative: {weights}")
    if len(set(weights)) != len(weights):
        raise SearchError(f"cost weights repeat: {weights}")
    return weights


def run_sweep(
    space_dir: str | Path,
    weights: str | Sequence[float],
    *,
    cost: str,
    out: str | Path,
    dataset: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    config_file: str | Path | None = None,
    cost_backbone: str = "resnet20",
    train_epochs: int = 0,
    resume: bool = False,
    quiet: bool = False,
    nproc: int = 1,
) -> list[SweepRow]:
    """Search once per weight into ``out/w<i>_<weight>``, write sweep.csv and sweep.png.

    With ``resume``, runs that completed are kept and interrupted ones continue from their
    checkpoints (run_search refuses if their options changed); without it ``out`` must be
    empty or absent.
    """
    weights = parse_weights(weights)
    if cost not in COST_KINDS:
        raise SearchError(f"cost must be one of {', '.join(COST_KINDS)}, got {cost!r}")
    if train_epochs < 0:
        raise SearchError(f"train_epochs must not be negative, got {train_epochs}")
    _check_backbone(cost_backbone)
    root = Path(out)
    if not resume and root.exists() and any(root.iterdir()):
        raise SearchError(f"sweep directory {root} is not empty; pass --resume or another --out")
    created = not root.exists()
    root.mkdir(parents=True, exist_ok=True)
    rows = []
    try:
        for index, weight in enumerate(weights):
            run_dir = root / f"w{index}_{weight:g}"
            settings = {**(overrides or {}), "cost": cost, "cost_weight": weight}
            if not _complete(run_dir):
                if not quiet:
                    print(f"sweep: cost weight {weight:g} -> {run_dir}", flush=True)
                run_search(
                    space_dir,
                    dataset=dataset,
                    out=run_dir,
                    overrides=settings,
                    config_file=config_file,
                    resume=resume and (run_dir / "checkpoint.pt").is_file(),
                    quiet=quiet,
                    nproc=nproc,
                )
            rows.append(_row(space_dir, run_dir, weight, cost, cost_backbone, train_epochs, quiet))
            write_csv(root / SWEEP_CSV, rows)  # after every run: a partial sweep is readable
    except BaseException:
        if created and root.is_dir() and not any(root.iterdir()):
            root.rmdir()  # stopped or failed before its first search wrote anything
        raise
    plot(root / SWEEP_PNG, rows)
    return rows


def _check_backbone(name: str) -> None:
    from sedsl.cost.network import BACKBONES

    if name not in BACKBONES:
        raise SearchError(f"unknown cost backbone {name!r}; choose one of {', '.join(BACKBONES)}")


def _complete(run_dir: Path) -> bool:
    try:
        return bool(json.loads((run_dir / outputs.GENOTYPE).read_text())["complete"])
    except (OSError, ValueError, KeyError):
        return False


def _row(
    space_dir: str | Path,
    run_dir: Path,
    weight: float,
    cost: str,
    backbone: str,
    train_epochs: int,
    quiet: bool,
) -> SweepRow:
    from sedsl.cost.report import CostError
    from sedsl.cost.report import cost as measure

    genotype_json = run_dir / outputs.GENOTYPE
    record = json.loads(genotype_json.read_text(encoding="utf-8"))
    with open(run_dir / outputs.METRICS, encoding="utf-8") as handle:
        last = list(csv.DictReader(handle))[-1]
    try:
        report = measure(space_dir, str(genotype_json), backbone)
    except CostError as exc:
        raise SearchError(f"pricing {genotype_json}: {exc}") from exc
    test_acc = _train(space_dir, run_dir, train_epochs, quiet) if train_epochs else None
    return SweepRow(
        weight=weight,
        genotype=" ".join(f"{edge}={choice}" for edge, choice in record["genotype"].items()),
        search_val_acc=float(last["val_acc"]),
        test_acc=test_acc,
        cost=cost,
        cost_chosen_search=float(last["cost_chosen"]),
        cost_expected_search=float(last["cost_expected"]),
        backbone=backbone,
        params=report.attention.params,
        macs=report.attention.macs,
        buffer_elements=report.attention.buffer_elements,
        buffer_2_20=report.attention.buffer_elements / MIB,
        run_dir=str(run_dir),
    )


def _train(space_dir: str | Path, run_dir: Path, epochs: int, quiet: bool) -> float:
    """Train the run's genotype from scratch with the search's data, backbone and seed."""
    from .train import TrainConfig, run_train

    result_file = run_dir / "train" / "result.json"
    same_length = False
    if result_file.is_file():
        result = json.loads(result_file.read_text(encoding="utf-8"))
        same_length = result["config"]["epochs"] == epochs
        if same_length and result.get("complete", True):
            return float(result["test_acc"])
    config = json.loads((run_dir / outputs.CONFIG).read_text(encoding="utf-8"))
    names = {f.name for f in fields(TrainConfig)} - {"epochs", "lr", "lr_min", "weight_decay"}
    train_config = replace(
        TrainConfig(), epochs=epochs, **{k: v for k, v in config.items() if k in names}
    )
    result = run_train(
        space_dir,
        run_dir / outputs.GENOTYPE,
        out=run_dir / "train",
        config=train_config,
        quiet=quiet,
        # an interrupted training of the same length continues; another length starts over
        resume=same_length and (run_dir / "train" / "checkpoint.pt").is_file(),
        overwrite=not same_length,
    )
    return result.test_acc


def write_csv(path: Path, rows: Sequence[SweepRow]) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(
        buffer, fieldnames=[f.name for f in fields(SweepRow)], lineterminator="\n"
    )
    writer.writeheader()
    for row in rows:
        values = {f.name: getattr(row, f.name) for f in fields(SweepRow)}
        values["buffer_2_20"] = f"{row.buffer_2_20:.4f}"
        values["test_acc"] = "" if row.test_acc is None else row.test_acc
        writer.writerow(values)
    outputs.write_text_atomic(path, buffer.getvalue())


def plot(path: Path, rows: Sequence[SweepRow]) -> None:
    """Accuracy against the swept cost of the chosen genotype in the named backbone."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    cost = rows[0].cost
    xs = [row.buffer_2_20 if cost == "buffer" else getattr(row, cost) / 1e6 for row in rows]
    trained = all(row.test_acc is not None for row in rows)
    ys = [row.test_acc if trained else row.search_val_acc for row in rows]
    figure, axis = plt.subplots(figsize=(6.0, 4.2))
    axis.plot(xs, ys, "o", color="tab:blue")
    labels: dict[tuple[float, float], list[SweepRow]] = {}
    for x, y, row in zip(xs, ys, rows, strict=True):
        labels.setdefault((x, y), []).append(row)  # coinciding points share one label
    for (x, y), group in labels.items():
        choice = group[0].genotype
        choice = choice if len(choice) <= 28 else choice[:25] + "..."
        weights = ", ".join(f"{row.weight:g}" for row in group)
        axis.annotate(
            f"λ={weights}\n{choice}",
            (x, y),
            textcoords="offset points",
            xytext=(6, 4),
            fontsize="x-small",
        )
    unit = {"buffer": "buffer (2^20 elements)", "params": "params (M)", "macs": "MACs (M)"}
    axis.set_xlabel(f"attention {unit[cost]} in {rows[0].backbone}")
    axis.set_ylabel("test accuracy (trained)" if trained else "search val accuracy (supernet)")
    axis.set_title(f"cost-aware search: accuracy vs {cost}")
    axis.grid(alpha=0.3)
    axis.margins(x=0.25, y=0.2)
    figure.tight_layout()
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}.png")
    figure.savefig(temporary, dpi=100)
    plt.close(figure)
    os.replace(temporary, path)
