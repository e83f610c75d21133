"""`sedsl check` of many files on several CPUs (sedsl/check/batch.py): the same output,
byte for byte, as checking them one after the other; every file checked exactly once;
a worker that fails has its files checked in the parent."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sedsl.check import batch
from tests.language.conftest import BAD_DIR, ROOT

FILES = [
    str(p.relative_to(ROOT))
    for p in sorted((ROOT / "spaces").glob("*.space")) + sorted(BAD_DIR.glob("*.space"))
]


def _check(jobs: str, fmt: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "SEDSL_NO_CACHE": "1", "SEDSL_JOBS": jobs, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "sedsl.cli", "check", "--format", fmt, *FILES],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


@pytest.mark.skipif(not hasattr(os, "fork"), reason="workers are forked")
@pytest.mark.parametrize("fmt", ["text", "json"])
def test_workers_give_the_output_of_one_process(fmt):
    alone = _check("1", fmt)
    assert alone.returncode == 1 and "sase" in alone.stdout  # the bad spaces have errors
    for jobs in ("2", "3"):
        shared = _check(jobs, fmt)
        assert (shared.stdout, shared.stderr, shared.returncode) == (
            alone.stdout,
            alone.stderr,
            alone.returncode,
        )


def test_shares_cover_every_file_once_in_order(monkeypatch, tmp_path):
    monkeypatch.setattr(batch, "_jobs", lambda: 3)
    paths = []
    for i, size in enumerate([50_000, 10, 20_000, 30_000, 5, 40_000]):
        path = tmp_path / f"f{i}.space"
        path.write_text("x" * size)
        paths.append(path)
    todo = [0, 1, 2, 3, 5]  # 4 came from the cache
    shares = batch._shares(paths, todo)
    assert len(shares) == 3
    assert sorted(i for share in shares for i in share) == todo
    assert all(share == sorted(share) for share in shares)
    assert [0] in shares  # the largest file is a share of its own
    assert shares[0] == [1, 5]  # the lightest share (40,010 bytes), which the parent checks


def test_small_work_stays_in_one_process(monkeypatch, tmp_path):
    monkeypatch.setattr(batch, "_jobs", lambda: 4)
    paths = [tmp_path / f"f{i}.space" for i in range(3)]
    for path in paths:
        path.write_text("space s\n")
    assert batch._shares(paths, [0, 1, 2]) == [[0, 1, 2]]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="workers are forked")
def test_a_failed_worker_has_its_files_checked_here(monkeypatch):
    monkeypatch.setenv("SEDSL_NO_CACHE", "1")
    parent = os.getpid()
    check_one = batch.check_one

    def fails_in_a_worker(path, overrides):
        if os.getpid() != parent:
            raise SystemExit(5)  # not an Exception: the worker dies, as on a crash
        return check_one(path, overrides)

    monkeypatch.setattr(batch, "check_one", fails_in_a_worker)
    monkeypatch.setattr(batch, "MIN_BYTES_PER_JOB", 1)
    monkeypatch.setattr(batch, "_jobs", lambda: 2)
    paths = [ROOT / "spaces" / "sase.space", ROOT / "spaces" / "bam.space"]
    results = batch.check_paths(paths, {})
    assert [r.summary.split(":")[0] for r in results] == [str(p) for p in paths]


def test_jobs_setting(monkeypatch):
    monkeypatch.setenv("SEDSL_JOBS", "1")
    assert batch._jobs() == 1
    monkeypatch.setenv("SEDSL_JOBS", "100")
    assert batch._jobs() == batch.MAX_JOBS
    monkeypatch.setenv("SEDSL_JOBS", "many")  # not a number: the machine's CPUs decide
    assert 1 <= batch._jobs() <= batch.MAX_JOBS


def test_an_unreadable_file_among_others(tmp_path):
    missing = str(Path("no") / "such.space")
    env = {**os.environ, "SEDSL_NO_CACHE": "1", "SEDSL_JOBS": "2", "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", "sedsl.cli", "check", missing, "spaces/sase.space"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 2 and "E002" in result.stdout
    assert "ok: space `sase`" in result.stdout


@pytest.mark.parametrize(
    ("content", "cpus", "idle"),
    [
        ("0.10 0.20 0.30 1/180 4242\n", 4, 4),  # only this process runs
        ("3.00 2.00 1.00 3/180 4242\n", 4, 2),  # two others run: two CPUs left
        ("9.00 9.00 9.00 12/180 4242\n", 2, 1),  # busy: this process only
        ("garbled\n", 2, 2),  # unreadable: every CPU
    ],
)
def test_workers_go_only_to_cpus_that_are_idle(tmp_path, content, cpus, idle):
    loadavg = tmp_path / "loadavg"
    loadavg.write_text(content)
    assert batch.idle_cpus(cpus, str(loadavg)) == idle
    assert batch.idle_cpus(cpus, str(tmp_path / "missing")) == cpus
