"""Datasets for search and training, held in memory as uint8 tensors and batched on the device.

A dataset is loaded once, as ``ImageData`` (uint8 images N x C x H x W, int64 labels); batches are
gathered, augmented (DARTS: random crop 32 with 4 pixels of zero padding, horizontal flip) and
normalised on the device by ``BatchStream``, whose own ``torch.Generator`` decides the order and the
augmentation. That keeps data loading out of the step, makes a stream's state one generator state
to checkpoint, and gives every data-parallel rank the same global batch to take its shard from.

Names: ``cifar10``, ``cifar100`` (torchvision, under ``data_dir``), ``imagefolder:PATH`` (PATH/train
and PATH/val or PATH/test class folders, or PATH alone as a training set; resized to 32 x 32 and
held in memory, so meant for CIFAR-sized sets), ``digits`` (scikit-learn's 8 x 8 digits, bundled
with it, upsampled to 32 x 32 RGB) and ``synthetic[:key=value,...]`` (class templates plus noise,
deterministic from its seed; keys classes, size, train, test, seed, signal).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from sedsl.reasons import reason

from .errors import SearchError

Batch = tuple[Tensor, Tensor]

# DARTS' CIFAR statistics (utils.py of the DARTS code), so normalised inputs match it exactly.
CIFAR_STATS = {
    "cifar10": ((0.49139968, 0.48215827, 0.44653124), (0.24703233, 0.24348505, 0.26158768)),
    "cifar100": ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),
}
CROP_PADDING = 4
OFFLINE_HINT = "or use a dataset that needs no download: --dataset digits or --dataset synthetic"


@dataclass(frozen=True)
class ImageData:
    """A whole split in memory; ``augment`` says whether DARTS' crop and flip apply."""

    images: Tensor  # uint8, N x C x H x W
    labels: Tensor  # int64, N
    num_classes: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    augment: bool

    def __len__(self) -> int:
        return int(self.labels.numel())

    @property
    def image_size(self) -> tuple[int, int]:
        return int(self.images.shape[2]), int(self.images.shape[3])

    def to(self, device: torch.device | str) -> ImageData:
        return ImageData(
            self.images.to(device),
            self.labels.to(device),
            self.num_classes,
            self.mean,
            self.std,
            self.augment,
        )


@dataclass(frozen=True)
class SyntheticSpec:
    classes: int = 10
    size: int = 32
    train: int = 5000
    test: int = 1000
    seed: int = 0
    signal: float = 48.0  # template amplitude in grey levels; the noise has std 32


def load_dataset(
    name: str, *, train: bool, data_dir: str | Path = "data", download: bool = False
) -> ImageData:
    """Load the training or test split of dataset ``name``; any failure is a SearchError."""
    kind, _, argument = name.partition(":")
    if kind in CIFAR_STATS:
        return _load_cifar(kind, Path(data_dir), train=train, download=download)
    if kind == "digits":
        return _load_digits(train=train)
    if kind == "synthetic":
        return make_synthetic(_parse_synthetic(argument), train=train)
    if kind == "imagefolder":
        if not argument:
            raise SearchError("imagefolder needs a path: --dataset imagefolder:PATH")
        return _load_imagefolder(Path(argument), train=train)
    raise SearchError(
        f"unknown dataset {name!r}; choose cifar10, cifar100, imagefolder:PATH, digits or synthetic"
    )


def split_halves(n: int, seed: int, portion: float = 0.5) -> tuple[Tensor, Tensor, Tensor]:
    """(permutation, weight-half indices, arch-half indices) of a seeded permutation of range(n).

    The permutation is saved in checkpoints, so a resumed run keeps its split even if the way a
    permutation is drawn from a seed ever changes.
    """
    permutation = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    cut = int(n * portion)
    if cut < 1 or cut >= n:
        raise SearchError(f"train_portion {portion} leaves an empty half of {n} images")
    return permutation, permutation[:cut], permutation[cut:]


@dataclass
class BatchStream:
    """Batches of ``data[indices]`` in a fresh random order each epoch.

    The stream draws the order and the augmentation of the whole global batch from its generator
    and then keeps shard ``rank`` of ``world``; every rank thus holds an identical generator and the
    union of the shards is exactly the single-process batch.
    """

    data: ImageData
    indices: Tensor
    batch_size: int
    seed: int
    rank: int = 0
    world: int = 1
    generator: torch.Generator = field(init=False)

    def __post_init__(self) -> None:
        if self.batch_size % self.world:
            raise SearchError(
                f"batch size {self.batch_size} is not divisible by {self.world} processes"
            )
        if len(self.indices) < self.batch_size:
            raise SearchError(
                f"a split of {len(self.indices)} images is smaller than one batch of "
                f"{self.batch_size}; lower the batch size or use a larger dataset"
            )
        self.generator = torch.Generator().manual_seed(self.seed)

    def __len__(self) -> int:
        return len(self.indices) // self.batch_size  # drop the ragged last batch

    def epoch(self, steps: int | None = None) -> Iterator[Batch]:
        count = len(self) if steps is None else min(steps, len(self))
        order = self.indices[torch.randperm(len(self.indices), generator=self.generator)]
        shard = self.batch_size // self.world
        for step in range(count):
            batch = order[step * self.batch_size : (step + 1) * self.batch_size]
            crops, flips = self._draw_augmentation(len(batch))
            keep = slice(self.rank * shard, (self.rank + 1) * shard)
            yield self._materialise(batch[keep], crops[keep], flips[keep])

    def state_dict(self) -> dict[str, Tensor]:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        self.generator.set_state(state["generator"])

    def _draw_augmentation(self, n: int) -> tuple[Tensor, Tensor]:
        if not self.data.augment:
            return torch.zeros(n, 2, dtype=torch.long), torch.zeros(n, dtype=torch.bool)
        crops = torch.randint(0, 2 * CROP_PADDING + 1, (n, 2), generator=self.generator)
        flips = torch.rand(n, generator=self.generator) < 0.5
        return crops, flips

    def _materialise(self, batch: Tensor, crops: Tensor, flips: Tensor) -> Batch:
        device = self.data.images.device
        batch = batch.to(device)
        images = self.data.images[batch]
        if self.data.augment:
            images = random_crop_flip(images, crops.to(device), flips.to(device))
        return normalise(images, self.data), self.data.labels[batch]


def eval_batches(data: ImageData, indices: Tensor | None, batch_size: int) -> Iterator[Batch]:
    """Un-augmented batches in a fixed order (for validation and test passes)."""
    indices = torch.arange(len(data)) if indices is None else indices
    for start in range(0, len(indices), batch_size):
        batch = indices[start : start + batch_size].to(data.images.device)
        yield normalise(data.images[batch], data), data.labels[batch]


def random_crop_flip(images: Tensor, crops: Tensor, flips: Tensor) -> Tensor:
    """torchvision's RandomCrop(size, padding=4) then RandomHorizontalFlip, batched.

    Padding is zero in uint8, as torchvision pads the PIL image before ToTensor and Normalize.
    """
    n, channels, height, width = images.shape
    padded = F.pad(images, (CROP_PADDING,) * 4)
    rows = (crops[:, 0, None] + torch.arange(height, device=images.device))[:, None, :, None]
    cols = (crops[:, 1, None] + torch.arange(width, device=images.device))[:, None, None, :]
    batch = torch.arange(n, device=images.device)[:, None, None, None]
    channel = torch.arange(channels, device=images.device)[None, :, None, None]
    cropped = padded[batch, channel, rows, cols]
    return torch.where(flips[:, None, None, None], cropped.flip(-1), cropped)


def normalise(images: Tensor, data: ImageData) -> Tensor:
    mean = torch.tensor(data.mean, device=images.device).view(1, -1, 1, 1)
    std = torch.tensor(data.std, device=images.device).view(1, -1, 1, 1)
    return (images.float() / 255 - mean) / std


# -- loaders ------------------------------------------------------------------------------------


def _load_cifar(kind: str, root: Path, *, train: bool, download: bool) -> ImageData:
    import torchvision

    cls = torchvision.datasets.CIFAR10 if kind == "cifar10" else torchvision.datasets.CIFAR100
    title = "CIFAR-10" if kind == "cifar10" else "CIFAR-100"
    try:
        dataset = cls(root=str(root), train=train, download=download)
    except RuntimeError as err:  # torchvision: "Dataset not found or corrupted"
        fetch = (
            "the download did not give a readable copy; delete it and pass --download again"
            if download
            else f"pass --download to fetch it into {root} (about 170 MB)"
        )
        raise SearchError(
            f"{title} not found or corrupted under {root}: {fetch}, point --data-dir at an "
            f"existing copy, {OFFLINE_HINT}"
        ) from err
    except (OSError, ValueError) as err:  # network failure, unreadable or truncated pickles
        why = reason(err) if isinstance(err, OSError) else "a file of it is truncated or corrupt"
        raise SearchError(f"cannot load {title} from {root}: {why}; {OFFLINE_HINT}") from err
    images = torch.from_numpy(np.ascontiguousarray(dataset.data)).permute(0, 3, 1, 2).contiguous()
    mean, std = CIFAR_STATS[kind]
    labels = torch.as_tensor(dataset.targets, dtype=torch.long)
    return ImageData(images, labels, len(dataset.classes), mean, std, augment=True)


def _load_digits(*, train: bool) -> ImageData:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    pixels = torch.as_tensor(bunch.images, dtype=torch.float32)[:, None] * (255 / 16)
    images = F.interpolate(pixels, size=(32, 32), mode="bilinear", align_corners=False)
    images = images.round().clamp(0, 255).to(torch.uint8).expand(-1, 3, -1, -1).contiguous()
    labels = torch.as_tensor(bunch.target, dtype=torch.long)
    cut = int(0.8 * len(labels))  # a fixed split: the first 80% train, the rest test
    part = slice(0, cut) if train else slice(cut, None)
    # Statistics of the training part for both splits; no flips (they change digits).
    mean, std = _channel_stats(images[:cut])
    return ImageData(images[part].contiguous(), labels[part], 10, mean, std, augment=False)


def _parse_synthetic(argument: str) -> SyntheticSpec:
    values: dict[str, float | int] = {}
    for item in filter(None, argument.split(",")):
        key, _, value = item.partition("=")
        if key not in SyntheticSpec.__dataclass_fields__ or not value:
            keys = ", ".join(SyntheticSpec.__dataclass_fields__)
            raise SearchError(f"synthetic: bad option {item!r}; use key=value with keys {keys}")
        try:
            values[key] = float(value) if key == "signal" else int(value)
        except ValueError as err:
            raise SearchError(f"synthetic: {key} must be a number, got {value!r}") from err
    return SyntheticSpec(**values)  # type: ignore[arg-type]


def make_synthetic(spec: SyntheticSpec, *, train: bool) -> ImageData:
    """Each class is a smooth random RGB template; an image is its template plus pixel noise.

    Templates come from ``spec.seed`` alone and the two splits from seed+1 and seed+2, so train
    and test share classes but not images.
    """
    generator = torch.Generator().manual_seed(spec.seed)
    coarse = torch.randn(spec.classes, 3, 4, 4, generator=generator)
    templates = F.interpolate(coarse, size=(spec.size, spec.size), mode="bilinear")
    templates = templates / templates.flatten(1).std(1).view(-1, 1, 1, 1)
    count = spec.train if train else spec.test
    generator.manual_seed(spec.seed + (1 if train else 2))
    labels = torch.randint(0, spec.classes, (count,), generator=generator)
    noise = torch.randn(count, 3, spec.size, spec.size, generator=generator)
    images = 128 + spec.signal * templates[labels] + 32 * noise
    images = images.round().clamp(0, 255).to(torch.uint8)
    mean, std = (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)
    return ImageData(images, labels, spec.classes, mean, std, augment=False)


def _load_imagefolder(root: Path, *, train: bool) -> ImageData:
    import torchvision

    if not root.is_dir():
        raise SearchError(f"imagefolder: {root} is not a directory of class folders")
    if (root / "train").is_dir():
        split = (
            root / "train"
            if train
            else next((root / name for name in ("val", "test") if (root / name).is_dir()), None)
        )
        if split is None:
            raise SearchError(f"imagefolder: {root} has train/ but no val/ or test/ to test on")
    elif train:
        split = root
    else:
        raise SearchError(f"imagefolder: {root} has no train/ and val/ (or test/) folders")
    resize = torchvision.transforms.Compose(
        [
            torchvision.transforms.Resize(32),
            torchvision.transforms.CenterCrop(32),
            torchvision.transforms.PILToTensor(),
        ]
    )
    try:
        dataset = torchvision.datasets.ImageFolder(str(split), transform=resize)
        pairs = [dataset[i] for i in range(len(dataset))]
    except (FileNotFoundError, OSError, RuntimeError) as err:
        # torchvision raises FileNotFoundError without an errno for a folder with no classes
        empty = isinstance(err, FileNotFoundError) and not err.errno
        why = "no class folders of images in it" if empty else reason(err)
        raise SearchError(f"imagefolder: cannot read {split}: {why}") from err
    images = torch.stack([image.expand(3, -1, -1) for image, _ in pairs])
    labels = torch.as_tensor([label for _, label in pairs], dtype=torch.long)
    mean, std = _channel_stats(images)
    return ImageData(images, labels, len(dataset.classes), mean, std, augment=True)


def _channel_stats(images: Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    pixels = images.float().div(255).transpose(0, 1).flatten(1)
    std = pixels.std(1).clamp_min(1e-3)
    return tuple(pixels.mean(1).tolist()), tuple(std.tolist())
