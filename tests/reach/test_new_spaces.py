"""The reach spaces (timm coverage and beyond) check clean at their points, search on digits (a
smoke run of a few steps: finite losses, a complete genotype of the space's candidates; BAT on
28 x 28 synthetic images, whose sizes its 7 x 7 blocks divide) and
export a module that builds the searched genotype. That generated/ matches the spaces is
tests/codegen/test_golden.py's job; the checker agreeing with the generated code at every point
and any input size are tests/codegen/test_checker_agrees.py's and tests/reach/test_any_size.py's,
which run over every generated space."""

from __future__ import annotations

import csv
import importlib.util
import json
import math

import pytest
import torch

from sedsl.check.checker import check_file
from sedsl.search import export_genotype, run_search
from tests.codegen.helpers import GENERATED, SPACES, manifest

REACH_SPACES = [
    "timm_channel",
    "timm_cbam",
    "timm_coord",
    "timm_context",
    "timm_nonlocal",
    "timm_bat",
    "timm_gather",
    "srm",
    "bam",
    "triplet",
]
SMOKE = {
    "epochs": 1,
    "steps_per_epoch": 2,
    "batch_size": 8,
    "eval_batches": 1,
    "order": 1,
    "width": 16,
}


@pytest.mark.parametrize("space", REACH_SPACES)
def test_checks_clean_at_its_points(space):
    report = check_file(SPACES / f"{space}.space")
    assert report.ok and not list(report.diagnostics), [str(d) for d in report.diagnostics]
    assert sum(len(points) for points in manifest(space)["points"].values()) >= 3


# digits reach the blocks at 32 x 32, 16 x 16 and 8 x 8; BAT's 7 x 7 attention matrices need
# multiples of 7, which 28 x 28 synthetic images give (28, 14, 7)
DATASETS = {"timm_bat": "synthetic:size=28,train=64,test=32"}


@pytest.mark.parametrize("space", REACH_SPACES)
def test_searches_on_digits_and_exports(space, tmp_path):
    torch.set_num_threads(1)
    run = run_search(
        GENERATED / space,
        dataset=DATASETS.get(space, "digits"),
        out=tmp_path / "run",
        overrides=SMOKE,
        quiet=True,
    )
    rows = list(csv.DictReader((run / "metrics.csv").read_text().splitlines()))
    assert len(rows) == 1 and math.isfinite(float(rows[0]["train_loss"]))
    record = json.loads((run / "genotype.json").read_text())
    candidates = {edge["name"]: edge for edge in manifest(space)["edges"]}
    assert record["complete"] and set(record["genotype"]) == set(candidates)
    out = export_genotype(run / "genotype.json", tmp_path / "searched.py", verify=False)
    spec = importlib.util.spec_from_file_location(f"searched_{space}", out)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    size = (16, 14, 14) if space in DATASETS else (16, 8, 8)
    block = module.build_searched(*size).eval()
    x = torch.randn(2, *size)
    assert block(x).shape == x.shape
