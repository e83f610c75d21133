"""Fixtures of the reach tests."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    """The comparisons run many small float64 forwards; on the shared 2-core machine a second
    OpenMP thread makes each one several times slower (barriers under load), not faster."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
