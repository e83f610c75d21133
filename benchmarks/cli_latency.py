"""Start-up latency of `sedsl check` against the floor of importing lark.

Alternating subprocess runs (so drift in machine load hits both alike), medians reported:

    python benchmarks/cli_latency.py [--runs 15]

Targets (issue 10 point 5): `sedsl check spaces/*.space` within 1.2x of
`python -c "import lark"` as a user runs it (the check cache warm, as after any earlier
check of unchanged files) and within 2.0x cold (SEDSL_NO_CACHE=1: parse, resolve and
check everything). Run it on a quiet machine: state the load average with the figures.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WARM_TARGET, COLD_TARGET = 1.2, 2.0


def _time(cmd: list[str], env: dict | None = None) -> float:
    start = time.perf_counter()
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, env=env)
    elapsed = time.perf_counter() - start
    if result.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)} failed:\n{result.stderr.decode()}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    spaces = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "spaces").glob("*.space"))
    check = [sys.executable, "-m", "sedsl.cli", "check", *spaces]
    lark = [sys.executable, "-c", "import lark"]
    cold_env = {**os.environ, "SEDSL_NO_CACHE": "1"}
    _time(check)  # warm the caches and the OS file cache
    _time(lark)
    warm, cold, larks = [], [], []
    for _ in range(args.runs):
        warm.append(_time(check))
        larks.append(_time(lark))
        cold.append(_time(check, cold_env))
    lark_median = statistics.median(larks)
    print(f"python -c 'import lark': median {lark_median * 1000:.0f} ms")
    for label, times, target in (
        ("warm cache", warm, WARM_TARGET),
        ("no cache  ", cold, COLD_TARGET),
    ):
        median = statistics.median(times)
        ratio = median / lark_median
        verdict = "ok" if ratio <= target else "OVER"
        print(
            f"sedsl check spaces/*.space, {label}: median {median * 1000:.0f} ms, "
            f"ratio {ratio:.2f} (target <= {target}) {verdict}"
        )


if __name__ == "__main__":
    main()
