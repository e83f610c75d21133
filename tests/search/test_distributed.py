"""Data-parallel search on CPU (gloo, 2 spawned processes) equals one process, same global batch."""

from __future__ import annotations

import pytest
import torch

from sedsl.search import run_search
from sedsl.search.checkpoint import load

from .conftest import FAKE_SPACE

DATASET = "synthetic:size=8,train=128,test=16,classes=3"
OPTIONS = {
    "epochs": 1,
    "batch_size": 16,
    "steps_per_epoch": 3,
    "width": 4,
    "eval_batches": 1,
    "arch_lr": 0.01,
}


@pytest.mark.parametrize("hvp", ["finite", "exact"])
def test_two_gloo_processes_match_one_process(tmp_path, hvp):
    runs = {}
    for nproc in (1, 2):
        runs[nproc] = run_search(
            FAKE_SPACE,
            dataset=DATASET,
            out=tmp_path / f"n{nproc}",
            overrides={**OPTIONS, "order": 2, "hvp": hvp},
            quiet=True,
            nproc=nproc,
        )
    # Each epoch ends with a check that all ranks hold identical alphas (or the run fails).
    one, two = (load(runs[n] / "checkpoint.pt")["network"] for n in (1, 2))
    for key in one:
        if key.startswith("alphas."):
            torch.testing.assert_close(two[key], one[key], rtol=1e-5, atol=1e-6)
        elif one[key].is_floating_point():
            torch.testing.assert_close(two[key], one[key], rtol=1e-4, atol=1e-5)
    assert any(not torch.equal(one[k], torch.zeros_like(one[k])) for k in one if "alphas" in k)
