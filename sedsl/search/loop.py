"""The search loop: per step an architecture update on the arch half, then a weight update.

Order within a step follows DARTS' ``train``: the architect moves the alphas using the current
weights, then the weights take their step with the new alphas. The learning rate follows a cosine
schedule per epoch. A checkpoint is written at the end of every epoch; a run may stop after any
number of epochs and resume to the same result it would have reached without stopping.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from . import checkpoint as ckpt
from . import outputs, rundir
from .architect import Architect
from .backbones import insertion_points
from .cost import CostModel, build_cost_model
from .data import BatchStream, ImageData, eval_batches, load_dataset, split_halves
from .distributed import DistContext, use_global_batchnorm
from .errors import SearchError
from .network import SearchNetwork, build_search_network
from .optim import make_sgd
from .recipe import SearchConfig, config_to_dict
from .space import LoadedSpace

EpochHook = Callable[["Search", int], None]
# Options that may change between a run and its resumption without changing its numbers.
RESUMABLE_CHANGES = frozenset({"data_dir", "download", "device", "tensorboard"})


@dataclass(frozen=True)
class EpochMetrics:
    epoch: int
    train_loss: float
    train_acc: float
    val_loss: float
    val_acc: float
    lr: float
    seconds: float
    alpha_entropy: float


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise SearchError(f"device {name!r} requested but CUDA is not available")
    return torch.device(name)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


class Search:
    """One search run in ``run_dir``; build it, then call ``run``."""

    def __init__(
        self,
        space: LoadedSpace,
        config: SearchConfig,
        run_dir: Path,
        *,
        context: DistContext | None = None,
        quiet: bool = False,
        data: ImageData | None = None,
    ) -> None:
        self.space, self.config, self.run_dir = space, config, Path(run_dir)
        self.context = context or DistContext()
        self.quiet = quiet or not self.context.is_main
        self.device = pick_device(config.device)
        seed_everything(config.seed)
        if data is None:
            data = load_dataset(
                config.dataset, train=True, data_dir=config.data_dir, download=config.download
            )
        self.data = data.to(self.device)
        self.split, weight_half, arch_half = split_halves(
            len(self.data), config.seed, config.train_portion
        )
        self.arch_half = arch_half
        self.network = self._build_network()
        self.cost_model: CostModel | None = None
        if config.cost is not None:  # priced at this network's insertion points
            points = insertion_points(config.backbone, self.data.image_size, width=config.width)
            self.cost_model = build_cost_model(space, config.cost, points)
        self.weight_stream = self._stream(weight_half, offset=1)
        self.arch_stream = self._stream(arch_half, offset=2)
        self.weight_optimizer = make_sgd(
            self.network.weight_parameters(),
            config.lr,
            momentum=config.momentum,
            weight_decay=config.weight_decay,
        )
        self.arch_optimizer = torch.optim.Adam(
            self.network.arch_parameters(),
            lr=config.arch_lr,
            betas=config.arch_betas,
            weight_decay=config.arch_weight_decay,
        )
        self.scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
            self.weight_optimizer, T_max=config.epochs, eta_min=config.lr_min
        )
        self.architect = Architect(
            self.network,
            self.network.weight_names(),
            self.network.arch_names(),
            self.weight_optimizer,
            self.arch_optimizer,
            order=config.order,  # type: ignore[arg-type]
            hvp=config.hvp,  # type: ignore[arg-type]
            fd_eps=config.fd_eps,
            reduce=self.context.all_reduce_mean,
            arch_penalty=self._cost_penalty if config.cost_weight > 0 else None,
        )
        self.epoch = 0  # completed epochs
        self.step = 0  # completed weight steps
        self.history: list[dict[str, float]] = []
        self.alpha_history: list[dict[str, Any]] = []

    # -- building ------------------------------------------------------------------------------

    def _build_network(self) -> SearchNetwork:
        network = build_search_network(
            self.space,
            backbone=self.config.backbone,
            num_classes=self.data.num_classes,
            input_size=self.data.image_size,
            width=self.config.width,
            alpha_init_std=self.config.alpha_init_std,
        )
        if self.context.active:
            use_global_batchnorm(network)
        network.to(self.device)
        # Same seed, same initialisation; the broadcast makes that a guarantee, not a hope.
        self.context.broadcast_([*network.parameters(), *network.buffers()])
        return network

    def _cost_penalty(self) -> Tensor:
        """cost_weight * E[cost] / (cost of the most expensive choice): unitless."""
        assert self.cost_model is not None
        scale = self.cost_model.maximum or 1.0
        expected = self.cost_model.expected(self.network.alphas.weights())
        return expected * (self.config.cost_weight / scale)

    def _stream(self, indices: Tensor, offset: int) -> BatchStream:
        return BatchStream(
            self.data,
            indices,
            self.config.batch_size,
            seed=self.config.seed * 1000 + offset,
            rank=self.context.rank,
            world=self.context.world,
        )

    # -- running -------------------------------------------------------------------------------

    def run(
        self, *, max_epochs_this_run: int | None = None, on_epoch_end: EpochHook | None = None
    ) -> Path:
        """Search until ``config.epochs`` (or for ``max_epochs_this_run`` more epochs)."""
        last = self.config.epochs
        if max_epochs_this_run is not None:
            last = min(last, self.epoch + max_epochs_this_run)
        writer = self._tensorboard()
        with self._progress() as progress:
            while self.epoch < last:
                metrics = self.run_epoch(progress)
                self.context.require_identical(self.network.arch_parameters(), "alphas")
                with rundir.critical():  # the checkpoint and the files that match it: one step
                    self._record(metrics, writer)
                    self.save_checkpoint()
                    self._write_outputs()
                if on_epoch_end is not None:
                    on_epoch_end(self, self.epoch)
        if self.context.is_main:
            with rundir.critical():
                outputs.plot_alphas(self.run_dir, self.alpha_history, self.space.candidates)
        if writer is not None:
            writer.close()
        return self.run_dir

    def run_epoch(self, progress: Any = None) -> EpochMetrics:
        start = time.perf_counter()
        epoch = self.epoch + 1
        lr = self.weight_optimizer.param_groups[0]["lr"]
        steps = self._steps_per_epoch()
        search_alphas = self.epoch >= self.config.arch_warmup_epochs
        task = (
            progress.add_task(f"epoch {epoch}/{self.config.epochs}", total=steps)
            if progress
            else None
        )
        totals = torch.zeros(3, dtype=torch.float64)  # loss sum, correct, count
        self.network.train()
        arch_batches = self.arch_stream.epoch(steps)
        for step, train in enumerate(self.weight_stream.epoch(steps), 1):
            val = next(arch_batches)
            if search_alphas:
                self.architect.step(train, val)
                self._require_finite_alphas(epoch, step)
            loss, correct = self.weight_step(train)
            self._require_finite(loss, "training loss", epoch, step)
            totals += torch.tensor(
                [loss * len(train[1]), correct, len(train[1])], dtype=totals.dtype
            )
            if task is not None:
                progress.update(
                    task,
                    advance=1,
                    description=f"epoch {epoch}/{self.config.epochs} "
                    f"loss {totals[0] / totals[2]:.3f} acc {totals[1] / totals[2]:.3f}",
                )
        self.context.all_reduce_mean([totals])  # equal shards: means of sums are fine as ratios
        self.scheduler.step()
        val_loss, val_acc = self.evaluate()
        self.epoch = epoch
        return EpochMetrics(
            epoch=epoch,
            train_loss=float(totals[0] / totals[2]),
            train_acc=float(totals[1] / totals[2]),
            val_loss=val_loss,
            val_acc=val_acc,
            lr=lr,
            seconds=time.perf_counter() - start,
            alpha_entropy=outputs.alpha_entropy(self.network.snapshot()),
        )

    def weight_step(self, batch: tuple[Tensor, Tensor]) -> tuple[float, int]:
        """One SGD step of the weights on a batch of the weight half (alphas fixed)."""
        inputs, targets = batch
        weights = self.network.weight_parameters()
        logits = self.network(inputs)
        loss = F.cross_entropy(logits, targets)
        grads = torch.autograd.grad(loss, weights)  # weights only: alphas get no gradient here
        self.context.all_reduce_mean(grads)
        for weight, grad in zip(weights, grads, strict=True):
            weight.grad = grad
        if self.config.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(weights, self.config.grad_clip)
        self.weight_optimizer.step()
        self.step += 1
        return float(loss.detach()), int((logits.detach().argmax(1) == targets).sum())

    @torch.no_grad()
    def evaluate(self) -> tuple[float, float]:
        """Loss and accuracy on the arch half in eval mode (DARTS' ``infer``)."""
        self.network.eval()
        loss_sum = correct = count = 0.0
        batches = eval_batches(self.data, self.arch_half, self.config.batch_size)
        for index, (inputs, targets) in enumerate(batches):
            if self.config.eval_batches is not None and index >= self.config.eval_batches:
                break
            logits = self.network(inputs)
            loss_sum += float(F.cross_entropy(logits, targets, reduction="sum"))
            correct += float((logits.argmax(1) == targets).sum())
            count += len(targets)
        self.network.train()
        return loss_sum / max(count, 1), correct / max(count, 1)

    def _steps_per_epoch(self) -> int:
        steps = min(len(self.weight_stream), len(self.arch_stream))
        return (
            steps
            if self.config.steps_per_epoch is None
            else min(steps, self.config.steps_per_epoch)
        )

    # -- checks --------------------------------------------------------------------------------

    def _require_finite(self, value: float, what: str, epoch: int, step: int) -> None:
        if not math.isfinite(value):
            raise SearchError(
                f"{what} became {value} at epoch {epoch}, step {step}; the search stopped. "
                f"{self._last_good()} Lower the learning rate (lr / arch_lr) or enable grad_clip"
            )

    def _require_finite_alphas(self, epoch: int, step: int) -> None:
        if not all(bool(torch.isfinite(a).all()) for a in self.network.arch_parameters()):
            self._require_finite(math.nan, "an architecture parameter", epoch, step)

    def _last_good(self) -> str:
        path = self.run_dir / ckpt.CHECKPOINT
        if self.epoch and path.exists():
            return f"The last good checkpoint ({path}, epoch {self.epoch}) is kept."
        return "No checkpoint was written yet."

    # -- state ---------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        return {
            "space": self.space.name,
            "source_sha256": self.space.source_sha256,
            "config": config_to_dict(self.config),
            "epoch": self.epoch,
            "step": self.step,
            "network": self.network.state_dict(),
            "alphas": self.network.alphas.state_dict(),
            "weight_optimizer": self.weight_optimizer.state_dict(),
            "arch_optimizer": self.arch_optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "rng": ckpt.rng_state(),
            "data": {
                "weights": self.weight_stream.state_dict(),
                "arch": self.arch_stream.state_dict(),
            },
            "split": self.split,
            "history": self.history,
            "alpha_history": self.alpha_history,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if not torch.equal(state["split"], self.split):
            raise SearchError("checkpoint: the train split differs from this run's; not resuming")
        self.network.load_state_dict(state["network"])
        self.weight_optimizer.load_state_dict(state["weight_optimizer"])
        self.arch_optimizer.load_state_dict(state["arch_optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.weight_stream.load_state_dict(state["data"]["weights"])
        self.arch_stream.load_state_dict(state["data"]["arch"])
        ckpt.set_rng_state(state["rng"])
        self.epoch, self.step = int(state["epoch"]), int(state["step"])
        self.history = list(state["history"])
        self.alpha_history = list(state["alpha_history"])

    def save_checkpoint(self) -> None:
        if self.context.is_main:
            ckpt.save_atomic(self.state_dict(), self.run_dir / ckpt.CHECKPOINT)
        self.context.barrier()

    def resume(self) -> None:
        state = ckpt.load(self.run_dir / ckpt.CHECKPOINT)
        check_resumable(state, self.space, self.config)
        self.load_state_dict(state)

    # -- outputs -------------------------------------------------------------------------------

    def genotype_record(self) -> dict[str, Any]:
        return {
            "format": 1,
            "space": self.space.name,
            "space_dir": outputs.path_from(self.run_dir, self.space.path),
            "source_sha256": self.space.source_sha256,
            "genotype": self.network.genotype(),
            "alphas": self.network.snapshot(),
            "alpha_logits": {
                name.removeprefix("alphas."): [float(v) for v in p.detach().reshape(-1)]
                for name, p in self.network.alphas.named_parameters(prefix="alphas")
            },
            "order": self.config.order,
            "hvp": self.config.hvp if self.config.order == 2 else None,
            "backbone": self.config.backbone,
            "dataset": self.config.dataset,
            "seed": self.config.seed,
            "epochs_completed": self.epoch,
            "epochs": self.config.epochs,
            "complete": self.epoch >= self.config.epochs,
            "cost": self._cost_record(),
        }

    def _cost_record(self) -> dict[str, Any] | None:
        if self.cost_model is None:
            return None
        return {
            **self.cost_model.summary(self.config.cost_weight),
            "backbone": self.config.backbone,
            "width": self.config.width,
            "input_size": list(self.data.image_size),
            **self._cost_columns(),
        }

    def _cost_columns(self) -> dict[str, float]:
        """Expected cost under the alphas' softmax and the chosen architecture's cost."""
        if self.cost_model is None:
            return {}
        with torch.no_grad():
            expected = float(self.cost_model.expected(self.network.alphas.weights()))
        return {
            "cost_expected": expected,
            "cost_chosen": self.cost_model.chosen(self.network.genotype()),
        }

    def _record(self, metrics: EpochMetrics, writer: Any) -> None:
        row = {name: getattr(metrics, name) for name in outputs.METRIC_COLUMNS}
        row.update(self._cost_columns())
        self.history.append(row)
        self.alpha_history.append({"epoch": metrics.epoch, "weights": self.network.snapshot()})
        if writer is not None:
            for name, value in row.items():
                if name != "epoch":
                    writer.add_scalar(name, value, metrics.epoch)

    def _write_outputs(self) -> None:
        if not self.context.is_main:
            return
        outputs.write_metrics(self.run_dir, self.history)
        outputs.write_alpha_history(self.run_dir, self.alpha_history)
        outputs.write_json(self.run_dir / outputs.GENOTYPE, self.genotype_record())

    def _progress(self) -> Any:
        if self.quiet:
            return nullcontext(None)
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        return Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
        )

    def _tensorboard(self) -> Any:
        if not (self.config.tensorboard and self.context.is_main):
            return None
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as err:
            raise SearchError(
                "tensorboard=true needs the tensorboard package: pip install tensorboard"
            ) from err
        return SummaryWriter(str(self.run_dir / "tensorboard"))


def check_resumable(state: dict[str, Any], space: LoadedSpace, config: SearchConfig) -> None:
    """Refuse to resume into a different space or with options that change the numbers."""
    if "space" not in state:
        raise SearchError("the checkpoint is not of a `sedsl search` run; not resuming")
    if state["space"] != space.name or state["source_sha256"] != space.source_sha256:
        raise SearchError(
            f"the checkpoint is of space {state['space']!r} "
            f"(source {state['source_sha256'][:12]}), not of {space.name!r} "
            f"(source {space.source_sha256[:12]}); not resuming"
        )
    now, defaults = config_to_dict(config), config_to_dict(SearchConfig())
    # an option a checkpoint does not record is one added since: it had its default then
    before = {key: state["config"].get(key, defaults[key]) for key in now}
    rundir.refuse_changed_options(before, now, RESUMABLE_CHANGES)
