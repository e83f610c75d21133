"""Any input size: every genotype of every shipped space, built at one size and run at another,
either computes what a module built at the other size computes (with the same weights), or
raises a ValueError that names the op pinning the size, the built size and the given size.
The supernet likewise, with the same alphas."""

from __future__ import annotations

import re

import pytest
import torch

from tests.codegen.helpers import GENERATED_SPACES, load_generated

BUILT = (16, 8, 8)
OTHER = (16, 12, 10)  # not square, and tiles of 7 cut it differently than the built size
PINNED = re.compile(r"`.+` .*built for 8 x 8, given 12 x 10")
# spaces that `require` other sizes: BAT's 7 x 7 blocks need multiples of 7
SIZES = {"timm_bat": ((16, 14, 14), (16, 21, 7))}


def _cases():
    for space in GENERATED_SPACES:
        _, fixed = load_generated(space)
        for name in fixed.GENOTYPES:
            yield space, name


def _agrees_or_pins(make, space: str, what: str) -> str:
    built_size, other_size = SIZES.get(space, (BUILT, OTHER))
    torch.manual_seed(0)
    built = make(*built_size).double()
    torch.manual_seed(2)
    x = torch.randn(2, *other_size, dtype=torch.float64)
    try:
        built(x)
    except ValueError as exc:
        assert PINNED.search(str(exc)), (space, what, str(exc))
        return "pinned"
    torch.manual_seed(1)
    other = make(*other_size).double()
    other.load_state_dict(built.state_dict())
    for train in (False, True):
        built.train(train), other.train(train)
        torch.manual_seed(3)  # the same dropout masks (BAT)
        expected = built(x)
        torch.manual_seed(3)
        torch.testing.assert_close(expected, other(x), rtol=0, atol=1e-10, msg=f"{space} {what}")
    return "follows"


@pytest.mark.parametrize(("space", "genotype"), list(_cases()))
def test_fixed_module_follows_the_input_or_says_it_cannot(space, genotype):
    _, fixed = load_generated(space)
    choice = fixed.GENOTYPES[genotype]
    _agrees_or_pins(lambda c, h, w: fixed.build_fixed(choice, c, h, w), space, genotype)


@pytest.mark.parametrize("space", GENERATED_SPACES)
def test_supernet_follows_the_input_or_says_it_cannot(space):
    supernet, _ = load_generated(space)
    torch.manual_seed(0)
    alphas = supernet.Alphas(init_std=1.0).double()
    _agrees_or_pins(lambda c, h, w: supernet.SupernetBlock(c, h, w, alphas), space, "supernet")


def test_the_whole_map_tile_follows_the_input():
    """TSE's `se` (tile h=H, w=W) built at 8 x 8 squeezes the whole 12 x 10 map it is given."""
    _, fixed = load_generated("tse")
    torch.manual_seed(0)
    block = fixed.build_fixed(fixed.GENOTYPES["se"], *BUILT).double()
    x = torch.randn(2, *OTHER, dtype=torch.float64)
    conv1, conv2 = block.y.hidden_conv2d, block.y.gate_conv2d
    gate = torch.sigmoid(conv2(torch.relu(conv1(x.mean(dim=(2, 3), keepdim=True)))))
    torch.testing.assert_close(block(x), x * gate, rtol=0, atol=1e-12)


def test_a_genotype_with_weights_per_position_refuses_another_size():
    _, fixed = load_generated("sase")
    genotype = {**fixed.GENOTYPES["paper"], "e_sp": "affine"}
    block = fixed.build_fixed(genotype, *BUILT)
    assert block(torch.randn(1, *BUILT)).shape == (1, *BUILT)
    message = (
        r"`affine` .*\(candidate `affine` of `excite_sp`\) has weights shaped by the input's "
        "height and width: built for 8 x 8, given 12 x 10"
    )
    with pytest.raises(ValueError, match=message):
        block(torch.randn(1, *OTHER))
