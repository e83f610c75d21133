"""No lost run, no stuck folder: SIGINT and SIGTERM sent to a real `sedsl search` / `sedsl
train` process before and after the first checkpoint, failures before the start, the folder
rules, and train's resume reaching the uninterrupted result exactly."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from sedsl.search import SearchError, TrainConfig, run_search, run_train
from sedsl.search.checkpoint import load

from .conftest import FAKE_SPACE

ROOT = Path(__file__).resolve().parents[2]
DATASET = "synthetic:size=16,train=256,test=32,classes=4"
# one CLI process: first-order, width 4 (from a config file), quiet
SEARCH = ["--dataset", DATASET, "--order", "1", "--batch-size", "16", "--eval-batches", "2"]
SETTINGS = {"order": 1, "batch_size": 16, "eval_batches": 2, "width": 4}


def start(tmp_path: Path, command: str, *args: str) -> subprocess.Popen:
    (tmp_path / "width.toml").write_text("width = 4\n", encoding="utf-8")
    config = ["--config", str(tmp_path / "width.toml")] if command == "search" else []
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "sedsl.cli", command, str(FAKE_SPACE), *config, *args, "--quiet"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def signal_when(process: subprocess.Popen, path: Path, number: int) -> tuple[int, str]:
    """Send `number` as soon as `path` appears; the exit status and stderr."""
    deadline = time.monotonic() + 240
    while not path.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"{path} never appeared: {process.communicate()[1]}")
        time.sleep(0.02)
    process.send_signal(number)
    _, err = process.communicate(timeout=240)
    return process.returncode, err


SIGNALS = [signal.SIGINT, signal.SIGTERM]


@pytest.mark.parametrize("number", SIGNALS, ids=lambda n: signal.Signals(n).name)
def test_a_signal_before_the_first_checkpoint_leaves_nothing(tmp_path, number):
    run = tmp_path / "run"
    if number == signal.SIGTERM:
        run.mkdir()  # an empty folder the user made: it stays, empty
    # a first epoch far longer than the test: config.json appears just before it starts
    process = start(tmp_path, "search", *SEARCH, "--steps-per-epoch", "100000", "--out", "run")
    code, err = signal_when(process, run / "config.json", number)
    name = signal.Signals(number).name
    assert code == 128 + number, err
    assert f"interrupted ({name}); stopped before the first checkpoint: nothing was kept" in err
    assert "Traceback" not in err
    if number == signal.SIGTERM:
        assert "sedsl's files were removed from run" in err
        assert list(run.iterdir()) == []
    else:
        assert "(run was removed)" in err
        assert not run.exists()
    # and the same folder is accepted by a plain rerun
    search(run, epochs=1, steps_per_epoch=2)
    assert json.loads((run / "genotype.json").read_text())["complete"]


@pytest.mark.parametrize("number", SIGNALS, ids=lambda n: signal.Signals(n).name)
def test_a_signal_after_the_first_checkpoint_keeps_it_and_resume_is_exact(tmp_path, number):
    steps = 150  # epoch 2 outlasts the poll that sees epoch 1's checkpoint
    process = start(
        tmp_path,
        "search",
        *SEARCH,
        "--epochs",
        "2",
        "--steps-per-epoch",
        str(steps),
        "--out",
        "run",
    )
    run = tmp_path / "run"
    code, err = signal_when(process, run / "checkpoint.pt", number)
    assert code == 128 + number, err
    assert (
        f"interrupted ({signal.Signals(number).name}); kept run/checkpoint.pt (after epoch 1 "
        "of 2) with config.json, metrics.csv, alphas.jsonl and genotype.json as of that epoch; "
        "the rest of epoch 2 is lost. Continue with the same command and --resume"
    ) in err, err
    assert load(run / "checkpoint.pt")["epoch"] == 1
    assert not [p.name for p in run.iterdir() if ".tmp-" in p.name]
    assert len((run / "metrics.csv").read_text().splitlines()) == 2  # header and epoch 1
    with pytest.raises(SearchError, match="--resume"):
        search(run, epochs=2, steps_per_epoch=steps)
    torch.set_num_threads(1)  # as the CLI process ran (OMP_NUM_THREADS=1): same arithmetic
    search(run, epochs=2, steps_per_epoch=steps, resume=True)
    whole = search(tmp_path / "whole", epochs=2, steps_per_epoch=steps)
    a, b = load(run / "checkpoint.pt"), load(whole / "checkpoint.pt")
    for key, tensor in a["network"].items():
        assert torch.equal(tensor, b["network"][key]), key
    assert a["history"][1]["val_loss"] == b["history"][1]["val_loss"]


def test_train_signal_after_the_first_checkpoint_then_resume(tmp_path):
    data = "synthetic:size=8,train=2048,test=16,classes=3"
    args = ["--genotype", "right", "--dataset", data, "--epochs", "2", "--batch-size", "8"]
    process = start(tmp_path, "train", *args, "--out", "t")
    code, err = signal_when(process, tmp_path / "t" / "checkpoint.pt", signal.SIGTERM)
    assert code == 128 + signal.SIGTERM, err
    assert "interrupted (SIGTERM); kept t/checkpoint.pt (after epoch 1 of 2) with " in err, err
    assert "the rest of epoch 2 is lost" in err
    record = json.loads((tmp_path / "t" / "result.json").read_text())
    assert record["epochs_completed"] == 1 and not record["complete"]


def search(out: Path, resume: bool = False, overwrite: bool = False, **options) -> Path:
    return run_search(
        FAKE_SPACE,
        dataset=DATASET,
        out=out,
        overrides={**SETTINGS, **options},
        quiet=True,
        resume=resume,
        overwrite=overwrite,
    )


def test_a_search_that_fails_before_it_starts_leaves_no_folder(tmp_path):
    with pytest.raises(SearchError, match="CIFAR-10"):
        run_search(
            FAKE_SPACE, dataset="cifar10", out=tmp_path / "run", overrides={"data_dir": tmp_path}
        )
    assert not (tmp_path / "run").exists()


def test_overwrite_and_leftovers(tmp_path):
    run = tmp_path / "run"
    search(run, epochs=1, steps_per_epoch=2)
    first = (run / "checkpoint.pt").stat().st_mtime_ns
    search(run, epochs=1, steps_per_epoch=2, overwrite=True)
    assert (run / "checkpoint.pt").stat().st_mtime_ns != first
    with pytest.raises(SearchError, match="pass one"):
        search(run, epochs=1, resume=True, overwrite=True)
    (run / "notes.txt").write_text("mine")
    with pytest.raises(SearchError, match=r"not a sedsl search run's \(notes.txt\)"):
        search(run, epochs=1, overwrite=True)
    assert (run / "checkpoint.pt").is_file()  # refused before touching anything
    # a run killed outright (no tidying) before its first checkpoint: a plain rerun starts over
    killed = tmp_path / "killed"
    killed.mkdir()
    (killed / "config.json").write_text("{}")
    (killed / ".checkpoint.pt.tmp-123").write_text("")
    search(killed, epochs=1, steps_per_epoch=2)
    assert (killed / "checkpoint.pt").is_file() and not (killed / ".checkpoint.pt.tmp-123").exists()


TRAIN = TrainConfig(
    dataset="synthetic:size=8,train=64,test=16,classes=3", epochs=2, batch_size=16, width=4
)


def test_train_interrupted_then_resumed_equals_uninterrupted(tmp_path):
    whole = run_train(FAKE_SPACE, "right", out=tmp_path / "whole", config=TRAIN, quiet=True)
    part = tmp_path / "part"
    run_train(FAKE_SPACE, "right", out=part, config=TRAIN, quiet=True, max_epochs_this_run=1)
    assert json.loads((part / "result.json").read_text())["complete"] is False
    resumed = run_train(FAKE_SPACE, "right", out=part, config=TRAIN, quiet=True, resume=True)
    a, b = load(tmp_path / "whole" / "checkpoint.pt"), load(part / "checkpoint.pt")
    for key, tensor in a["model"].items():
        assert torch.equal(tensor, b["model"][key]), key
    rows = [
        list(csv.DictReader((r / "metrics.csv").read_text().splitlines()))
        for r in (tmp_path / "whole", part)
    ]
    assert rows[0] == rows[1] and len(rows[0]) == 2
    assert (whole.test_acc, whole.test_loss) == (resumed.test_acc, resumed.test_loss)


def test_train_resume_rules(tmp_path):
    out = tmp_path / "t"
    with pytest.raises(SearchError, match="nothing to resume"):
        run_train(FAKE_SPACE, "right", out=out, config=TRAIN, quiet=True, resume=True)
    run_train(FAKE_SPACE, "right", out=out, config=TRAIN, quiet=True, max_epochs_this_run=1)
    with pytest.raises(SearchError, match="after epoch 1 of 2.*--resume"):
        run_train(FAKE_SPACE, "right", out=out, config=TRAIN, quiet=True)
    changed = TrainConfig(**{**TRAIN.__dict__, "lr": 0.5})
    with pytest.raises(SearchError, match="different options.*lr: 0.1 -> 0.5"):
        run_train(FAKE_SPACE, "right", out=out, config=changed, quiet=True, resume=True)
    with pytest.raises(SearchError, match="genotype: 'right' -> 'none'"):
        run_train(FAKE_SPACE, "none", out=out, config=TRAIN, quiet=True, resume=True)
    with pytest.raises(SearchError, match="not of a `sedsl search` run"):
        run_search(FAKE_SPACE, dataset=DATASET, out=out, resume=True, quiet=True)
