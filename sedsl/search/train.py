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

from . import checkpoint as ckpt
from . import outputs, rundir
from .backbones import build_backbone, count_parameters
from .data import BatchStream, ImageData, eval_batches, load_dataset
from .errors import SearchError
from .export import check_genotype, read_genotype
from .loop import pick_device, seed_everything
from .optim import make_sgd
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


RESULT = "result.json"


@dataclass(frozen=True)
class TrainResult:
    parameters: int
    test_acc: float
    test_loss: float
    train_acc: float
    seconds: float


TRAIN_FILES = rundir.RunFiles("train", (ckpt.CHECKPOINT, outputs.METRICS, RESULT), record=RESULT)
# options that may change between a run and its resumption without changing its numbers
RESUMABLE_CHANGES = frozenset({"data_dir", "download", "device"})


def run_train(
    space_dir: str | Path | None,
    genotype: str | Path,
    *,
    out: str | Path,
    config: TrainConfig = TrainConfig(),
    quiet: bool = False,
    resume: bool = False,
    overwrite: bool = False,
    max_epochs_this_run: int | None = None,
) -> TrainResult:
    """Train ``config.backbone`` with ``genotype`` inserted; write metrics.csv and result.json.

    A checkpoint is written at the end of every epoch; ``resume`` continues from it to the
    result an uninterrupted run reaches. ``max_epochs_this_run`` stops early (tests)."""
    run_dir = Path(out)
    rundir.prepare(run_dir, TRAIN_FILES, resume=resume, overwrite=overwrite)
    return rundir.guarded(
        run_dir,
        TRAIN_FILES,
        lambda: _train(space_dir, genotype, run_dir, config, quiet, resume, max_epochs_this_run),
    )


def _train(
    space_dir: str | Path | None,
    genotype: str | Path,
    run_dir: Path,
    config: TrainConfig,
    quiet: bool,
    resume: bool,
    max_epochs_this_run: int | None,
) -> TrainResult:
    seed_everything(config.seed)
    device = pick_device(config.device)
    train = load_dataset(
        config.dataset, train=True, data_dir=config.data_dir, download=config.download
    )
    test = load_dataset(config.dataset, train=False, data_dir=config.data_dir)
    model = build_model(space_dir, genotype, config, train).to(device)
    state = _Training(model, train.to(device), test.to(device), config, str(genotype))
    if resume:
        state.load(ckpt.load(run_dir / ckpt.CHECKPOINT))
    run_dir.mkdir(parents=True, exist_ok=True)
    last = config.epochs
    if max_epochs_this_run is not None:
        last = min(last, state.epoch + max_epochs_this_run)
    while state.epoch < last:
        row = state.run_epoch()
        with rundir.critical():  # the checkpoint and the files that match it: one step
            ckpt.save_atomic(state.state_dict(), run_dir / ckpt.CHECKPOINT)
            state.write_outputs(run_dir)
        if not quiet:
            from rich import print as rprint

            rprint(
                f"epoch {row['epoch']}/{config.epochs}  train acc {row['train_acc']:.3f}  "
                f"test acc {row['test_acc']:.3f}"
            )
    if state.epoch == 0:  # zero epochs: still a result of the untrained network
        state.write_outputs(run_dir)
    return state.result()


class _Training:
    """The state of one training run, saved whole at the end of every epoch."""

    def __init__(
        self,
        model: nn.Module,
        train: ImageData,
        test: ImageData,
        config: TrainConfig,
        genotype: str,
    ) -> None:
        self.model, self.train, self.test, self.config = model, train, test, config
        self.genotype = genotype
        self.stream = BatchStream(train, torch.arange(len(train)), config.batch_size, config.seed)
        self.optimizer = make_sgd(
            model.parameters(),
            config.lr,
            momentum=config.momentum,
            weight_decay=config.weight_decay,
        )
        self.schedule = torch.optim.lr_scheduler.CosineAnnealingLR(
            self.optimizer, config.epochs, config.lr_min
        )
        self.epoch = 0
        self.rows: list[dict[str, float]] = []
        self.seconds = 0.0  # training time over all sessions of the run

    def run_epoch(self) -> dict[str, float]:
        start = time.perf_counter()
        self.model.train()
        correct = seen = 0
        for inputs, targets in self.stream.epoch():
            logits = self.model(inputs)
            loss = F.cross_entropy(logits, targets)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            correct += int((logits.argmax(1) == targets).sum())
            seen += len(targets)
        test_loss, test_acc = _evaluate(self.model, self.test, self.config.batch_size)
        self.epoch += 1
        row = {
            "epoch": self.epoch,
            "train_acc": correct / max(seen, 1),
            "test_loss": test_loss,
            "test_acc": test_acc,
            "lr": self.schedule.get_last_lr()[0],
        }
        self.schedule.step()
        self.rows.append(row)
        self.seconds += time.perf_counter() - start
        return row

    def result(self) -> TrainResult:
        if self.rows:
            last = self.rows[-1]
            test_loss, test_acc, train_acc = last["test_loss"], last["test_acc"], last["train_acc"]
        else:
            test_loss, test_acc = _evaluate(self.model, self.test, self.config.batch_size)
            train_acc = 0.0
        return TrainResult(
            count_parameters(self.model), test_acc, test_loss, train_acc, self.seconds
        )

    def write_outputs(self, run_dir: Path) -> None:
        lines = ["epoch,train_acc,test_loss,test_acc,lr\n"]
        lines += [",".join(str(row[k]) for k in row) + "\n" for row in self.rows]
        outputs.write_text_atomic(run_dir / outputs.METRICS, "".join(lines))
        outputs.write_json(
            run_dir / RESULT,
            {
                "genotype": self.genotype,
                "config": asdict(self.config),
                **asdict(self.result()),
                "epochs_completed": self.epoch,
                "epochs": self.config.epochs,
                "complete": self.epoch >= self.config.epochs,
            },
        )

    def state_dict(self) -> dict[str, Any]:
        return {
            "kind": "train",
            "genotype": self.genotype,
            "config": asdict(self.config),
            "epoch": self.epoch,
            "seconds": self.seconds,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "schedule": self.schedule.state_dict(),
            "stream": self.stream.state_dict(),
            "rng": ckpt.rng_state(),
            "rows": self.rows,
        }

    def load(self, state: dict[str, Any]) -> None:
        if state.get("kind") != "train":
            raise SearchError("the checkpoint is not of a `sedsl train` run; not resuming")
        now = asdict(self.config)
        before = {key: state["config"].get(key) for key in now}
        genotype = [f"genotype: {state['genotype']!r} -> {self.genotype!r}"] * (
            state["genotype"] != self.genotype
        )
        rundir.refuse_changed_options(before, now, RESUMABLE_CHANGES, genotype)
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.schedule.load_state_dict(state["schedule"])
        self.stream.load_state_dict(state["stream"])
        ckpt.set_rng_state(state["rng"])
        self.epoch, self.seconds = int(state["epoch"]), float(state["seconds"])
        self.rows = list(state["rows"])


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


@torch.no_grad()
def _evaluate(model: nn.Module, data: ImageData, batch_size: int) -> tuple[float, float]:
    model.eval()
    loss = correct = 0.0
    for inputs, targets in eval_batches(data, None, batch_size):
        logits = model(inputs)
        loss += float(F.cross_entropy(logits, targets, reduction="sum"))
        correct += float((logits.argmax(1) == targets).sum())
    return loss / len(data), correct / len(data)
