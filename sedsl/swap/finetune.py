"""Fine-tune a swapped network (the TSE paper's "ft", section 4.3).

The paper trains the swapped network "a further 40 epochs on a subset of 10% of the
ImageNet-1K training data"; its other settings are those of its section 4.1 (SGD, momentum
0.9, weight decay 5e-5, cosine schedule). The learning rate of the fine-tuning is not
given; the default here, 0.01 at batch 64, is ours (pycls' base rate for RegNet is 0.8 at
batch 1024, i.e. 0.05 at 64, which is meant for training from scratch). The subset is
drawn once from `seed`, stratification-free, as the paper says nothing more.

Images stream from ROOT/train with RandomResizedCrop at the swap's input size and a
horizontal flip, ImageNet mean and std. The result is a swap directory again (swap.json
with a `finetune` entry, model.pt), so `sedsl evaluate` scores it and `load_swapped` reads it.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from .api import MODEL_PT, SWAP_JSON, load_swapped
from .evaluate import EvaluateError, eval_transform, image_folder, top1
from .zoo import se_network


@dataclass(frozen=True)
class FinetuneConfig:
    epochs: int = 40
    fraction: float = 0.1
    batch_size: int = 64
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 5e-5
    seed: int = 0
    workers: int = 0
    device: str = "cpu"


@dataclass(frozen=True)
class FinetuneResult:
    images: int  # training images used (the fraction of ROOT/train)
    epochs: int
    train_loss: float  # mean over the last epoch
    val_top1: float | None  # on ROOT/val after the last epoch, when it exists
    seconds: float


def train_transform(backbone: str, input_size: int):
    import torchvision.transforms as T

    reference = se_network(backbone).eval_transform()
    return T.Compose(
        [
            T.RandomResizedCrop(input_size, interpolation=reference.interpolation),
            T.RandomHorizontalFlip(),
            T.ToTensor(),
            T.Normalize(reference.mean, reference.std),
        ]
    )


def finetune(
    swap_dir: str | Path,
    data: str | Path,
    out: str | Path,
    config: FinetuneConfig = FinetuneConfig(),
    *,
    log=print,
) -> FinetuneResult:
    if not 0 < config.fraction <= 1:
        raise EvaluateError(f"--fraction {config.fraction}: must be in (0, 1]")
    if config.epochs < 1 or config.batch_size < 1:
        raise EvaluateError("--epochs and --batch-size must be positive")
    model, record = load_swapped(swap_dir)
    backbone, size = record["backbone"], int(record["input_size"])
    train_set = image_folder(data, train_transform(backbone, size), split="train")
    generator = torch.Generator().manual_seed(config.seed)
    count = max(1, round(config.fraction * len(train_set)))
    subset = torch.utils.data.Subset(
        train_set, torch.randperm(len(train_set), generator=generator)[:count].tolist()
    )
    loader = torch.utils.data.DataLoader(
        subset,
        batch_size=config.batch_size,
        shuffle=True,
        num_workers=config.workers,
        generator=torch.Generator().manual_seed(config.seed + 1),
        drop_last=len(subset) > config.batch_size,  # BN needs more than one sample
    )
    model.to(config.device)
    optimizer = torch.optim.SGD(
        model.parameters(),
        config.lr,
        momentum=config.momentum,
        weight_decay=config.weight_decay,
    )
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, config.epochs)
    dtype = next(model.parameters()).dtype
    start, loss_mean = time.perf_counter(), 0.0
    for epoch in range(1, config.epochs + 1):
        model.train()
        total = batches = 0.0
        for images, labels in loader:
            images, labels = images.to(config.device, dtype), labels.to(config.device)
            loss = F.cross_entropy(model(images), labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.item()
            batches += 1
        schedule.step()
        loss_mean = total / max(batches, 1)
        log(f"epoch {epoch}/{config.epochs}  train loss {loss_mean:.4f}")
    val_top1 = None
    if (Path(data) / "val").is_dir():
        val = image_folder(data, eval_transform(backbone, size), split="val")
        scores = top1({"finetuned": model}, val, batch_size=config.batch_size, device=config.device)
        val_top1 = scores["finetuned"].top1
    result = FinetuneResult(count, config.epochs, loss_mean, val_top1, time.perf_counter() - start)
    _write(out, model, record, config, result)
    return result


def _write(out, model, record, config: FinetuneConfig, result: FinetuneResult) -> None:
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    torch.save(model.to("cpu").state_dict(), root / MODEL_PT)
    finetuned = {**record, "finetune": {"config": asdict(config), "result": asdict(result)}}
    (root / SWAP_JSON).write_text(json.dumps(finetuned, indent=2) + "\n", encoding="utf-8")
