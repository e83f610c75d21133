"""Write a tiny CIFAR-10 in the real on-disk format (python pickles of cifar-10-batches-py).

torchvision checks each file's md5 against constants of the CIFAR10 class; ``md5s`` returns the
fixture's sums so a test can point those constants at it and run the real loader unchanged.
"""

from __future__ import annotations

import hashlib
import pickle
from pathlib import Path

import numpy as np

CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
TRAIN_FILES = [f"data_batch_{i}" for i in range(1, 6)]


def write_cifar10(root: Path, per_batch: int = 8, test: int = 8, seed: int = 0) -> Path:
    """Five training batches of ``per_batch`` images, one test batch; returns the batch folder."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for name, count in [*((f, per_batch) for f in TRAIN_FILES), ("test_batch", test)]:
        # The real files are Python 2 pickles whose str keys load as str with latin1 decoding.
        batch = {
            "batch_label": name,
            "labels": [int(i % 10) for i in range(count)],
            "data": rng.integers(0, 256, (count, 3072), dtype=np.uint8),
            "filenames": [f"{name}_{i}.png" for i in range(count)],
        }
        with open(folder / name, "wb") as handle:
            pickle.dump(batch, handle, protocol=2)
    with open(folder / "batches.meta", "wb") as handle:
        pickle.dump({"label_names": CLASSES, "num_cases_per_batch": per_batch}, handle)
    return folder


def md5s(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.md5(p.read_bytes()).hexdigest() for p in folder.iterdir()}


def trust_fixture(monkeypatch, folder: Path) -> None:
    """Make torchvision's integrity check expect the fixture's md5 sums."""
    from torchvision.datasets import CIFAR10

    sums = md5s(folder)
    monkeypatch.setattr(CIFAR10, "train_list", [[n, sums[n]] for n in TRAIN_FILES])
    monkeypatch.setattr(CIFAR10, "test_list", [["test_batch", sums["test_batch"]]])
    monkeypatch.setitem(CIFAR10.meta, "md5", sums["batches.meta"])
