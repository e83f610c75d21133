"""`sedsl sweep`: one search per cost weight, then sweep.csv and sweep.png."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from click.testing import CliRunner

from sedsl.cli import main
from sedsl.search import SearchError
from sedsl.search.sweep import parse_weights, run_sweep

TSE_SEARCH = Path(__file__).parents[2] / "generated" / "tse_search"
DATASET = "synthetic:size=16,train=128,test=16,classes=4"


def test_tiny_sweep_writes_its_table_and_picture(tmp_path):
    config = tmp_path / "tiny.toml"
    config.write_text("width = 4\neval_batches = 1\narch_lr = 0.05\n")
    out = tmp_path / "sweep"
    args = [
        "sweep", str(TSE_SEARCH), "--cost", "buffer", "--cost-weight", "0,1",
        "--dataset", DATASET, "--config", str(config), "--order", "1", "--epochs", "1",
        "--steps-per-epoch", "2", "--batch-size", "16", "--out", str(out), "--quiet",
    ]  # fmt: skip
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "wrote" in result.output and "x 2^20" in result.output
    rows = list(csv.DictReader((out / "sweep.csv").open()))
    assert [float(r["weight"]) for r in rows] == [0.0, 1.0]
    assert {"genotype", "search_val_acc", "buffer_elements", "buffer_2_20", "backbone"} <= set(
        rows[0]
    )
    assert all(r["backbone"] == "resnet20" and r["genotype"].startswith("context=") for r in rows)
    # priced in resnet20 at 32 x 32: whatever was chosen, the strips are below SE's 86016
    assert all(0 < int(r["buffer_elements"]) <= 86016 for r in rows)
    assert float(rows[0]["buffer_2_20"]) == pytest.approx(
        int(rows[0]["buffer_elements"]) / 2**20, abs=1e-4
    )
    assert (out / "sweep.png").stat().st_size > 0
    assert (out / "w0_0" / "genotype.json").is_file() and (out / "w1_1" / "metrics.csv").is_file()
    # a finished sweep resumes without searching again, and refuses to overwrite
    again = CliRunner().invoke(main, [*args, "--resume"])
    assert again.exit_code == 0 and "sweep: cost weight" not in again.output
    refused = CliRunner().invoke(main, args)
    assert refused.exit_code == 2 and "not empty" in refused.output


def test_sweep_arguments_are_checked(tmp_path):
    assert parse_weights("0, 1e-3,1e-2") == [0.0, 1e-3, 1e-2]
    for bad, message in [("", "at least one"), ("0,x", "could not convert"), ("-1", "negative")]:
        with pytest.raises(SearchError, match=message):
            parse_weights(bad)
    with pytest.raises(SearchError, match="repeat"):
        parse_weights("0,0")
    with pytest.raises(SearchError, match="unknown cost backbone"):
        run_sweep(TSE_SEARCH, "0", cost="buffer", out=tmp_path / "s", cost_backbone="vgg")
    with pytest.raises(SearchError, match="cost must be one of"):
        run_sweep(TSE_SEARCH, "0", cost="latency", out=tmp_path / "s")
