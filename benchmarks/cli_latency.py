"""Start-up latency of `sedsl check` against the floor of importing lark.

Alternating subprocess runs (so drift in machine load hits both alike), medians reported:

    python benchmarks/cli_latency.py [--runs 15]

Target: `sedsl check spaces/*.space` within 2.0x of `python -c "import lark"`.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = 2.0


def _time(cmd: list[str]) -> float:
    start = time.perf_counter()
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True)
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
    _time(check)  # warm the lark grammar cache and the OS file cache
    _time(lark)
    checks, larks = [], []
    for _ in range(args.runs):
        checks.append(_time(check))
        larks.append(_time(lark))
    check_median, lark_median = statistics.median(checks), statistics.median(larks)
    ratio = check_median / lark_median
    print(f"sedsl check {' '.join(spaces)}: median {check_median * 1000:.0f} ms")
    print(f"python -c 'import lark':  median {lark_median * 1000:.0f} ms")
    print(f"ratio: {ratio:.2f} (target <= {TARGET}) {'ok' if ratio <= TARGET else 'OVER'}")


if __name__ == "__main__":
    main()
