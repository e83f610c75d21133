"""Start-up latency of `sedsl check` against the floor of importing lark.

Alternating subprocess runs (so drift in machine load hits both alike), medians reported:

    python benchmarks/cli_latency.py [--runs 15]

Targets (issue 10 point 5): `sedsl check spaces/*.space` within 1.2x of
`python -c "import lark"` as a user runs it (the check cache warm, as after any earlier
check of unchanged files) and within 2.0x cold (SEDSL_NO_CACHE=1: parse, resolve and
check everything). Run it on a quiet machine: state the load average with the figures.
It runs `python -m sedsl`, which is what the `sedsl` console script runs (sedsl/__main__.py;
a plain `check` starts there without click).
Every run may write and read bytecode (__pycache__), as an installed sedsl and lark do:
with PYTHONDONTWRITEBYTECODE set, as in some sandboxes, each run would compile sedsl's
sources again (about 100 ms) while lark's come precompiled, which is no user's case.
The CPU time of the same runs (user + system, of the child and its workers) is printed
too: on a loaded machine it moves far less than the wall time, so it is the fairer figure
for comparing two versions there. A cold check shares the files out among the machine's
idle CPUs (sedsl/check/batch.py; on a loaded machine it checks in one process); the row
"one process" (SEDSL_JOBS=1) shows it without.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WARM_TARGET, COLD_TARGET = 1.2, 2.0


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _time(cmd: list[str], env: dict | None = None) -> tuple[float, float]:
    """The wall time and the CPU time of one run."""
    start, cpu = time.perf_counter(), _cpu()
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, env=env)
    elapsed = time.perf_counter() - start
    if result.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)} failed:\n{result.stderr.decode()}")
    return elapsed, _cpu() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    spaces = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "spaces").glob("*.space"))
    check = [sys.executable, "-m", "sedsl", "check", *spaces]
    lark = [sys.executable, "-c", "import lark"]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    cold_env = {**env, "SEDSL_NO_CACHE": "1"}
    alone_env = {**cold_env, "SEDSL_JOBS": "1"}
    _time(check, cold_env)  # write the bytecode of every module a cold check imports
    _time(check, env)  # warm the caches and the OS file cache
    _time(lark, env)
    warm, cold, alone, larks = [], [], [], []
    for _ in range(args.runs):
        warm.append(_time(check, env))
        larks.append(_time(lark, env))
        cold.append(_time(check, cold_env))
        alone.append(_time(check, alone_env))
    lark_wall, lark_cpu = (statistics.median(t[i] for t in larks) for i in (0, 1))
    lark_ms, lark_cpu_ms = lark_wall * 1000, lark_cpu * 1000
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = " ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    print(f"{cpus} CPUs, load average {load} (a cold check forks up to one worker per idle CPU)")
    print(f"python -c 'import lark': median {lark_ms:.0f} ms, cpu {lark_cpu_ms:.0f} ms")
    for label, times, target in (
        ("warm cache", warm, WARM_TARGET),
        ("no cache  ", cold, COLD_TARGET),
        ("no cache, one process", alone, COLD_TARGET),
    ):
        wall, cpu = (statistics.median(t[i] for t in times) for i in (0, 1))
        ratio = wall / lark_wall
        verdict = "ok" if ratio <= target else "OVER"
        print(
            f"sedsl check spaces/*.space, {label}: median {wall * 1000:.0f} ms, "
            f"ratio {ratio:.2f} (target <= {target}) {verdict}; "
            f"cpu {cpu * 1000:.0f} ms, ratio {cpu / lark_cpu:.2f}"
        )


if __name__ == "__main__":
    main()
