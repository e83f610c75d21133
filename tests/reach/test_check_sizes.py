"""`sedsl check` reports per candidate whether it follows any input size (JSON `sizes`, and a
one-line note naming the candidates that pin it), and the generated modules agree: swapping
one edge of a declared genotype to a candidate, the block built at 8 x 8 refuses 12 x 10
exactly when the report says that candidate pins the size."""

from __future__ import annotations

import json

import pytest
import torch

from tests.codegen.helpers import GENERATED_SPACES, load_generated, manifest, run_sedsl


def _sizes(space: str) -> dict:
    result = run_sedsl("check", manifest(space)["source"], "--format", "json")
    assert result.returncode == 0, result.stderr
    (entry,) = json.loads(result.stdout)["sizes"]
    return entry


def test_check_names_the_candidates_that_pin_the_size():
    entry = _sizes("sase")
    pinned = {(c["opset"], c["candidate"]) for c in entry["candidates"] if not c["size_agnostic"]}
    assert pinned == {("squeeze_sp", "in_l2"), ("excite_sp", "affine")}
    assert entry["block"] == {"size_agnostic": True, "pinned_by": None}
    text = run_sedsl("check", "spaces/sase.space", "spaces/tse.space").stdout
    assert (
        "spaces/sase.space: note: 2 of 28 candidates pin the input size (weights shaped by H or "
        "W), the others follow any size: squeeze_sp.in_l2, excite_sp.affine"
    ) in text
    assert "tse.space: note" not in text


# spaces that `require` other sizes: BAT's 7 x 7 blocks need multiples of 7
SIZES = {"timm_bat": ((16, 14, 14), (16, 21, 7))}


@pytest.mark.parametrize("space", GENERATED_SPACES)
def test_the_report_agrees_with_the_generated_modules(space):
    built, other = SIZES.get(space, ((16, 8, 8), (16, 12, 10)))
    entry = _sizes(space)
    pins = {(c["opset"], c["candidate"]): not c["size_agnostic"] for c in entry["candidates"]}
    data = manifest(space)
    _, fixed = load_generated(space)
    base = next(iter(data["genotypes"].values()))
    for edge in data["edges"]:
        for label in edge["candidates"]:
            torch.manual_seed(0)
            block = fixed.build_fixed({**base, edge["name"]: label}, *built)
            try:
                block(torch.randn(2, *other))  # batch 2: BN over a pooled map
                refused = False
            except ValueError:
                refused = True
            assert refused == pins[(edge["opset"], label)], (space, edge["name"], label)
