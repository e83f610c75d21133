"""The search loop end to end on the fake space: outputs, resume exactness, failure handling,
and that DARTS finds the candidate that is plainly right."""

from __future__ import annotations

import csv
import json

import pytest
import torch

from sedsl.search import SearchError, run_search
from sedsl.search.checkpoint import load

from .conftest import FAKE_SPACE

DATASET = "synthetic:size=16,train=256,test=32,classes=4"
TINY = {"epochs": 2, "batch_size": 16, "steps_per_epoch": 4, "width": 4, "eval_batches": 2}


def search(out, **options):
    settings = {**TINY, **options}
    hook = settings.pop("on_epoch_end", None)
    stop = settings.pop("max_epochs_this_run", None)
    resume = settings.pop("resume", False)
    return run_search(
        FAKE_SPACE,
        dataset=DATASET,
        out=out,
        overrides=settings,
        quiet=True,
        resume=resume,
        max_epochs_this_run=stop,
        on_epoch_end=hook,
    )


def test_run_writes_every_output(tmp_path, capsys, device):
    run = search(tmp_path / "run", device=str(device))
    names = {p.name for p in run.iterdir()}
    assert {
        "config.json",
        "metrics.csv",
        "alphas.jsonl",
        "alphas.png",
        "genotype.json",
        "checkpoint.pt",
    } <= names
    rows = list(csv.DictReader((run / "metrics.csv").read_text().splitlines()))
    assert [r["epoch"] for r in rows] == ["1", "2"]
    assert set(rows[0]) == {
        "epoch",
        "train_loss",
        "train_acc",
        "val_loss",
        "val_acc",
        "lr",
        "seconds",
        "alpha_entropy",
    }
    record = json.loads((run / "genotype.json").read_text())
    assert record["complete"] and record["order"] == 2 and record["hvp"] == "finite"
    assert set(record["genotype"]) == {"a", "b"} and record["space"] == "fake"
    assert len((run / "alphas.jsonl").read_text().splitlines()) == 2
    assert json.loads((run / "config.json").read_text())["dataset"] == DATASET
    assert capsys.readouterr().out == ""  # quiet means quiet


@pytest.mark.parametrize("order", [1, 2])
def test_interrupted_then_resumed_equals_uninterrupted(tmp_path, order):
    whole = search(tmp_path / "whole", order=order)
    part = search(tmp_path / "part", order=order, max_epochs_this_run=1)
    assert json.loads((part / "genotype.json").read_text())["complete"] is False
    search(tmp_path / "part", order=order, resume=True)
    a, b = (load(run / "checkpoint.pt") for run in (whole, part))
    for key, tensor in a["network"].items():
        assert torch.equal(tensor, b["network"][key]), key
    genotype = [json.loads((run / "genotype.json").read_text()) for run in (whole, part)]
    assert genotype[0]["alpha_logits"] == genotype[1]["alpha_logits"]
    assert genotype[0]["genotype"] == genotype[1]["genotype"]
    rows = [
        list(csv.DictReader((r / "metrics.csv").read_text().splitlines())) for r in (whole, part)
    ]
    assert [r["val_loss"] for r in rows[0]] == [r["val_loss"] for r in rows[1]]


def test_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path):
    def poison(search_run, epoch):
        if epoch == 1:
            with torch.no_grad():
                search_run.network.net.fc.weight.fill_(float("nan"))

    with pytest.raises(SearchError, match="epoch 2, step 1.*last good checkpoint.*epoch 1"):
        search(tmp_path / "run", on_epoch_end=poison)
    state = load(tmp_path / "run" / "checkpoint.pt")
    assert state["epoch"] == 1
    assert all(torch.isfinite(t).all() for t in state["network"].values() if t.is_floating_point())


def test_run_directory_rules(tmp_path):
    with pytest.raises(SearchError, match="does not exist, so there is nothing to resume"):
        search(tmp_path / "fresh", resume=True)
    assert not (tmp_path / "fresh").exists()
    search(tmp_path / "run", epochs=1)
    with pytest.raises(SearchError, match="after epoch 1 of 1.*--resume.*--overwrite"):
        search(tmp_path / "run", epochs=1)
    with pytest.raises(SearchError, match="different options.*lr"):
        search(tmp_path / "run", epochs=1, lr=0.5, resume=True)


@pytest.mark.parametrize("order, hvp", [(1, "finite"), (2, "finite"), (2, "exact")])
def test_search_finds_the_candidate_that_is_plainly_right(tmp_path, device, order, hvp):
    # identity is right on both edges (second of three on a, last on b); the others scramble
    # features with fixed random signs.
    run = search(
        tmp_path / "run",
        device=str(device),
        order=order,
        hvp=hvp,
        epochs=3,
        steps_per_epoch=8,
        arch_lr=0.03,
        eval_batches=1,
    )
    record = json.loads((run / "genotype.json").read_text())
    assert record["genotype"] == {"a": "identity", "b": "identity"}, record["alphas"]
