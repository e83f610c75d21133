"""Checkpoints: everything a search needs to continue bit for bit, written atomically.

The file holds only tensors and plain Python values, so it loads with ``weights_only=True``.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .errors import SearchError

FORMAT = 1
CHECKPOINT = "checkpoint.pt"


def rng_state() -> dict[str, Any]:
    state = np.random.get_state()
    numpy_state = (str(state[0]), torch.from_numpy(state[1].copy()), *map(_py, state[2:]))
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": numpy_state,
        "python": random.getstate(),
    }


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    name, keys, *rest = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), *rest))
    random.setstate(_tuples(state["python"]))


def save_atomic(payload: dict[str, Any], path: Path) -> None:
    """Write to a temporary file beside ``path``, then rename: a crash leaves the old file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    torch.save({"format": FORMAT, **payload}, temporary)
    os.replace(temporary, path)


def load(path: Path) -> dict[str, Any]:
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # a truncated or foreign file
        raise SearchError(f"{path}: cannot read the checkpoint: {err}") from err
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise SearchError(f"{path}: not a sedsl search checkpoint (format {FORMAT})")
    return payload


def _py(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def _tuples(value: Any) -> Any:
    # random.setstate wants tuples; a serialised state may come back with lists.
    return tuple(_tuples(v) for v in value) if isinstance(value, (list, tuple)) else value
