"""Every genotype of the reach spaces equals its independent reference (timm's module, or the
paper's in tests/reach/test_beyond_timm.py) at every `check` point of its space, not only at the
two small sizes of the other tests: random weights and BN statistics copied, float64, train mode
then eval mode (tests/reach/compare.py). The points are read from each space through the
checker, so a point added to a space is compared here without editing this file."""

from __future__ import annotations

from functools import cache
from typing import NamedTuple

import pytest
from torch import nn

from sedsl.check.checker import check_file, environments
from tests.codegen.helpers import SPACES
from tests.reach import test_beyond_timm as paper
from tests.reach.compare import assert_computes_the_same, fixed_module, randomise
from tests.reach.test_new_spaces import REACH_SPACES
from tests.reach.timm_table import ROWS


class Reference(NamedTuple):
    space: str
    genotype: str
    build: object  # C -> the reference module
    names: dict


REFERENCES = [
    *(Reference(r.space, r.genotype, r.build, r.names) for r in ROWS if r.space in REACH_SPACES),
    *(Reference(c.space, c.genotype, c.reference, c.names) for c in paper.CASES),
]


@cache
def space_ir(space: str):
    report = check_file(SPACES / f"{space}.space")
    assert report.ok, space
    return report.space


def cases() -> list:
    params = []
    for ref in REFERENCES:
        for point_set, env in environments(space_ir(ref.space)):
            size = (env["C"], env["H"], env["W"])
            point = f"{point_set}-{'x'.join(map(str, size))}"
            params.append(pytest.param(ref, size, id=f"{ref.space}-{ref.genotype}-{point}"))
    return params


@pytest.mark.parametrize(("ref", "size"), cases())
def test_equals_its_reference_at_every_check_point(ref: Reference, size: tuple[int, int, int]):
    mine: nn.Module = randomise(fixed_module(ref.space, ref.genotype, *size), seed=sum(size))
    reference = ref.build(size[0]).double()
    assert_computes_the_same(mine, reference, ref.names, size, f"{ref.genotype} at {size}", batch=2)


@pytest.mark.parametrize("space", REACH_SPACES)
def test_every_genotype_has_a_reference(space):
    """A genotype added to a reach space must be given its reference here."""
    ours = {g.name for g in space_ir(space).genotypes}
    assert ours == {ref.genotype for ref in REFERENCES if ref.space == space}
