"""The evaluation stage: train a backbone with a fixed attention block from scratch.

The block is a declared genotype of the space (``GENOTYPES[name]`` of its fixed.py), a searched
``genotype.json``, or ``none`` for the plain backbone; the result reports parameters and accuracy.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from . import outputs
from .backbones import build_backbone, count_parameters
from .data import BatchStream, ImageData, eval_batches, load_dataset
from .errors import SearchError
from .export import check_genotype, read_genotype
from .loop import pick_device, seed_everything
from .space import load_space


@dataclass(frozen=True)
class TrainConfig:
    dataset: str = "cifar10"
    data_dir: str = "data"
    download: bool = False
    backbone: str = "resnet20"
    width: int = 16
    epochs: int = 200
    batch_size: int = 128
    lr: float = 0.1
    lr_min: float = 0.0
    momentum: float = 0.9
    weight_decay: float = 5e-4
    seed: int = 0
    device: str = "auto"


@dataclass(frozen=True)
class TrainResult:
    parameters: int
    test_acc: float
    test_loss: float
    train_acc: float
    seconds: float


def run_train(
    space_dir: str | Path | None,
    genotype: str | Path,
    *,
    out: str | Path,
    config: TrainConfig = TrainConfig(),
    quiet: bool = False,
) -> TrainResult:
    """Train ``config.backbone`` with ``genotype`` inserted; write metrics.csv and result.json."""
    seed_everything(config.seed)
    device = pick_device(config.device)
    train = load_dataset(
        config.dataset, train=True, data_dir=config.data_dir, download=config.download
    )
    test = load_dataset(config.dataset, train=False, data_dir=config.data_dir)
    model = build_model(space_dir, genotype, config, train).to(device)
    run_dir = Path(out)
    run_dir.mkdir(parents=True, exist_ok=True)
    result = _fit(model, train.to(device), test.to(device), config, run_dir, quiet)
    outputs.write_json(
        run_dir / "result.json",
        {"genotype": str(genotype), "config": asdict(config), **asdict(result)},
    )
    return result


def build_model(
    space_dir: str | Path | None, genotype: str | Path, config: TrainConfig, data: ImageData
) -> nn.Module:
    factory = block_factory(space_dir, genotype, config.backbone)
    return build_backbone(
        config.backbone,
        factory,
        num_classes=data.num_classes,
        input_size=data.image_size,
        width=config.width,
    )


def block_factory(
    space_dir: str | Path | None, genotype: str | Path, backbone: str = "resnet20"
) -> Any:
    """None for ``none``; else a factory building the genotype with the space's build_fixed."""
    if str(genotype) == "none":
        return None
    if str(genotype).endswith(".json"):
        record = read_genotype(genotype)
        space = load_space(space_dir or record["space_dir"])
        check_genotype(record, space)
        choice = dict(record["genotype"])
    else:
        if space_dir is None:
            raise SearchError(f"genotype {genotype!r} needs the space directory it is declared in")
        space = load_space(space_dir)
        declared = space.fixed.GENOTYPES
        if str(genotype) not in declared:
            raise SearchError(
                f"space {space.name} declares no genotype {genotype!r}; "
                f"known: {', '.join(declared) or 'none'} (or give a genotype.json)"
            )
        choice = dict(declared[str(genotype)])

    def factory(c: int, h: int, w: int):
        extra = space.dim_kwargs({"C": c, "H": h, "W": w}, f"backbone {backbone}")
        return space.fixed.build_fixed(choice, c, h, w, **extra)

    return factory


def _fit(
    model: nn.Module,
    train: ImageData,
    test: ImageData,
    config: TrainConfig,
    run_dir: Path,
    quiet: bool,
) -> TrainResult:
    stream = BatchStream(train, torch.arange(len(train)), config.batch_size, seed=config.seed)
    optimizer = torch.optim.SGD(
        model.parameters(), config.lr, momentum=config.momentum, weight_decay=config.weight_decay
    )
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, config.epochs, config.lr_min)
    rows, start = [], time.perf_counter()
    train_acc = 0.0
    for epoch in range(1, config.epochs + 1):
        model.train()
        correct = seen = 0
        for inputs, targets in stream.epoch():
            logits = model(inputs)
            loss = F.cross_entropy(logits, targets)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            correct += int((logits.argmax(1) == targets).sum())
            seen += len(targets)
        train_acc = correct / max(seen, 1)
        test_loss, test_acc = _evaluate(model, test, config.batch_size)
        rows.append(
            {
                "epoch": epoch,
                "train_acc": train_acc,
                "test_loss": test_loss,
                "test_acc": test_acc,
                "lr": schedule.get_last_lr()[0],
            }
        )
        schedule.step()
        if not quiet:
            from rich import print as rprint

            rprint(
                f"epoch {epoch}/{config.epochs}  train acc {train_acc:.3f}  test acc {test_acc:.3f}"
            )
    with open(run_dir / "metrics.csv", "w", encoding="utf-8") as handle:
        handle.write("epoch,train_acc,test_loss,test_acc,lr\n")
        handle.writelines(",".join(str(row[k]) for k in row) + "\n" for row in rows)
    test_loss, test_acc = rows[-1]["test_loss"], rows[-1]["test_acc"]
    return TrainResult(
        count_parameters(model), test_acc, test_loss, train_acc, time.perf_counter() - start
    )


@torch.no_grad()
def _evaluate(model: nn.Module, data: ImageData, batch_size: int) -> tuple[float, float]:
    model.eval()
    loss = correct = 0.0
    for inputs, targets in eval_batches(data, None, batch_size):
        logits = model(inputs)
        loss += float(F.cross_entropy(logits, targets, reduction="sum"))
        correct += float((logits.argmax(1) == targets).sum())
    return loss / len(data), correct / len(data)
