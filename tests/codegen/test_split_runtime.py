"""The runtime split checks name the split (its node and op) and say why the checker's `sizes`
verdict did not rule the size out: a size-agnostic candidate may still need the axis divisible."""

from __future__ import annotations

import re

import pytest
import torch

from tests.codegen.test_constructs import generated, supernet_of

SOURCE = """space cut "a split along H"
op halves(x: [B, C, H, W]) -> [B, C, H / 2, W] {
  parts = split(x, along="h", parts=2)
  return parts[1]
}
op head(x: [B, C, H, W]) -> [B, C, 3, W] {
  parts = split(x, along="h", at=3)
  return parts[0]
}
opset e(x: [B, C, H, W]) -> [B, C, H / 2, W] { halves }
opset t(x: [B, C, H, W]) -> [B, C, 3, W] { head }
block cut(x: [B, C, H, W]) -> [B, C, 3, W] {
  y = e(x)
  z = t(y)
  return z
}
check points (C, H, W) in [(4, 8, 8), (4, 12, 6)]
genotype g { y = halves, z = head }
"""

UNEVEN = re.escape(
    "`split` of node `parts` in op `halves`: 2 equal parts along dim 2 of size 7 do not divide "
    "it (`sedsl check`'s `sizes` verdict covers the sizes, but the split also needs this axis "
    "divisible by 2)"
)
EMPTY = re.escape(
    "`split` of node `parts` in op `head`: split at 3 along dim 2 of size 3 leaves an empty part "
    "(`sedsl check`'s `sizes` verdict covers the sizes, but the split also needs this axis "
    "longer than 3)"
)


@pytest.mark.parametrize("which", ["fixed", "supernet"])
def test_a_split_that_does_not_fit_the_input_names_its_node_and_op(which, tmp_path):
    _, fixed = generated(tmp_path, f"cut_{which}", SOURCE)
    if which == "fixed":
        block = fixed.build_fixed(fixed.GENOTYPES["g"], 4, 8, 8)
    else:  # the compiled supernet inlines the ops into its edges
        supernet = supernet_of(f"cut_{which}")
        block = supernet.SupernetBlock(4, 8, 8, supernet.Alphas())
    assert block(torch.randn(1, 4, 8, 8)).shape == (1, 4, 3, 8)
    with pytest.raises(ValueError, match=UNEVEN):
        block(torch.randn(1, 4, 7, 8))
    with pytest.raises(ValueError, match=EMPTY):
        block(torch.randn(1, 4, 6, 8))
