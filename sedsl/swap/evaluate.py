"""Top-1 of the original and the swapped network on an ImageFolder (Table 2's "aw").

Images stream from disk through torchvision's evaluation transform of the backbone's
IMAGENET1K_V1 weights (resize, centre crop, ImageNet mean and std), with the crop set to
the swap's input size: a swapped block is built for the map sizes of one input size (a
7 x W strip knows its W), so the evaluation runs at that size. Where torchvision's crop
differs (EfficientNet-B2: 288 against Table 2's 260), the resize keeps torchvision's
resize-to-crop ratio. Class indices are ImageFolder's (sorted folder names), which for
ImageNet's synset folders is torchvision's class order.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from .zoo import se_network


class EvaluateError(Exception):
    """A dataset that cannot be read, or an evaluation that cannot run."""


@dataclass(frozen=True)
class Score:
    top1: float
    correct: int
    images: int


def eval_transform(backbone: str, input_size: int):
    import torchvision.transforms as T

    reference = se_network(backbone).eval_transform()
    crop, resize = reference.crop_size[0], reference.resize_size[0]
    if crop != input_size:
        resize = round(input_size * resize / crop)
    return T.Compose(
        [
            T.Resize(resize, interpolation=reference.interpolation),
            T.CenterCrop(input_size),
            T.ToTensor(),
            T.Normalize(reference.mean, reference.std),
        ]
    )


def image_folder(root: str | Path, transform, split: str = "val"):
    """ROOT/val (or ROOT/test, or ROOT itself) as a torchvision ImageFolder."""
    import torchvision

    root = Path(root)
    if not root.is_dir():
        raise EvaluateError(f"{root}: not a directory of class folders")
    candidates = [root / split, root / "test", root] if split == "val" else [root / split, root]
    folder = next(p for p in candidates if p.is_dir())
    try:
        return torchvision.datasets.ImageFolder(str(folder), transform=transform)
    except (FileNotFoundError, OSError, RuntimeError) as exc:
        raise EvaluateError(f"{folder}: cannot read it as an ImageFolder: {exc}") from exc


@torch.no_grad()
def top1(
    models: dict[str, nn.Module],
    dataset,
    *,
    batch_size: int = 64,
    workers: int = 0,
    limit: int | None = None,
    device: str = "cpu",
) -> dict[str, Score]:
    """Top-1 of each model over `dataset` (its first `limit` images), one pass over the data."""
    if limit is not None:
        dataset = torch.utils.data.Subset(dataset, range(min(limit, len(dataset))))
    if len(dataset) == 0:
        raise EvaluateError("the dataset has no images")
    loader = torch.utils.data.DataLoader(
        dataset, batch_size=batch_size, shuffle=False, num_workers=workers
    )
    for model in models.values():
        model.to(device).eval()
    correct = dict.fromkeys(models, 0)
    seen = 0
    for images, labels in loader:
        images, labels = images.to(device), labels.to(device)
        for name, model in models.items():
            dtype = next(model.parameters()).dtype
            correct[name] += int((model(images.to(dtype)).argmax(1) == labels).sum())
        seen += len(labels)
    return {name: Score(correct[name] / seen, correct[name], seen) for name in models}
