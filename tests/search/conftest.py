"""Shared fixtures: the hand-written fake space and tiny networks built from it."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from sedsl.search.network import SearchNetwork, build_search_network
from sedsl.search.space import LoadedSpace, load_space

FAKE_SPACE = Path(__file__).parent / "fake_space"
# Tests that take a `device` run on every device here; CUDA ones are skipped without a GPU.
DEVICES = [
    "cpu",
    pytest.param(
        "cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
    ),
]


@pytest.fixture(params=DEVICES)
def device(request) -> torch.device:
    return torch.device(request.param)


@pytest.fixture(autouse=True)
def _two_threads() -> None:
    torch.set_num_threads(2)


@pytest.fixture(scope="session")
def fake_space() -> LoadedSpace:
    return load_space(FAKE_SPACE)


def tiny_network(
    space: LoadedSpace,
    *,
    seed: int = 0,
    dtype: torch.dtype = torch.float32,
    size: int = 8,
    device: torch.device | str = "cpu",
) -> SearchNetwork:
    """ResNet-20 at width 4 on size x size inputs: every stage and block, few weights."""
    torch.manual_seed(seed)
    network = build_search_network(
        space, num_classes=3, input_size=(size, size), width=4, alpha_init_std=0.5
    )
    return network.to(device, dtype)


def batch(
    seed: int,
    n: int = 8,
    size: int = 8,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str = "cpu",
) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)  # drawn on the CPU: the same on every device
    x = torch.randn(n, 3, size, size, generator=generator, dtype=dtype)
    y = torch.randint(0, 3, (n,), generator=generator)
    return x.to(device), y.to(device)
