"""Differential test: the checker says "no error" exactly when every module the generator makes
(the supernet and every genotype's fixed block) builds and returns the declared shape at every
declared point. Random spaces come from tests/check_vs_runtime/strategies.py; 5,000 of them:
`python benchmarks/check_vs_runtime.py`."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from tests.check_vs_runtime.harness import verdicts
from tests.check_vs_runtime.strategies import spaces

EXAMPLES = 200


@pytest.fixture(autouse=True)
def _quiet_torch():
    with warnings.catch_warnings():
        warnings.simplefilter(
            "ignore", UserWarning
        )  # zero-channel layers at sizes a space rules out
        yield


def test_checker_and_runtime_agree_on_random_spaces():
    seen = {"clean": 0, "rejected": 0}

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    @given(spaces())
    def agree(space):
        v = verdicts(space.text)
        seen["clean" if v.checker_ok else "rejected"] += 1
        assert v.agree, f"checker: {v.checker or 'ok'}; runtime: {v.runtime or 'ok'}\n{space.text}"

    agree()
    # both verdicts occur often enough for the agreement to mean something
    assert seen["clean"] >= EXAMPLES // 20 and seen["rejected"] >= EXAMPLES // 4, seen


# each disagreement found, kept as a case: the two verdicts must agree on it
AGREE_DIR = Path(__file__).resolve().parents[1] / "spaces" / "agree"


@pytest.mark.parametrize("case", sorted(AGREE_DIR.glob("*.space")), ids=lambda p: p.stem)
def test_found_disagreements_stay_fixed(case):
    v = verdicts(case.read_text(encoding="utf-8"))
    assert v.agree, f"checker: {v.checker or 'ok'}; runtime: {v.runtime or 'ok'}"
