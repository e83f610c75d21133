"""Differential run of the checker against the runtime on many random spaces.

    python benchmarks/check_vs_runtime.py [N]      (default 5000)

Prints how many spaces the checker passed and rejected, the time taken, and every disagreement
(the space's text, the checker's first error, the runtime's first failure); exit 1 if any.
"""

from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hypothesis import HealthCheck, given, settings  # noqa: E402

from tests.check_vs_runtime.harness import verdicts  # noqa: E402
from tests.check_vs_runtime.strategies import spaces  # noqa: E402


def main(n: int) -> int:
    warnings.simplefilter("ignore", UserWarning)
    counts = {"clean": 0, "rejected": 0}
    disagreements = []

    @settings(
        max_examples=n,
        deadline=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    @given(spaces())
    def run(space):
        v = verdicts(space.text)
        counts["clean" if v.checker_ok else "rejected"] += 1
        if not v.agree:
            disagreements.append((space.text, v))

    start = time.perf_counter()
    run()
    took = time.perf_counter() - start
    for text, v in disagreements:
        print(f"--- checker: {v.checker or 'ok'}; runtime: {v.runtime or 'ok'}\n{text}")
    total = counts["clean"] + counts["rejected"]
    print(
        f"{total} spaces: {counts['clean']} clean, {counts['rejected']} rejected by the checker; "
        f"{len(disagreements)} disagreements; {took:.1f} s"
    )
    return 1 if disagreements else 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 5000))
