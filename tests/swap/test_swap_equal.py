"""The swap is proved equal: with the `se` genotype every listed torchvision network is
unchanged (float64, random weights, train and eval mode), and with TSE_7xW exactly the slots
whose map has at most 7 rows keep SE's output (the paper's "for k = 7 SE and TSE converge")."""

from __future__ import annotations

import pytest
import torch

from sedsl.swap.api import swap
from sedsl.swap.slots import se_modules
from sedsl.swap.zoo import SE_NETWORKS, se_network

from .conftest import ROOT

# maps of 16 down to 2 rows: the 7-row rule splits the slots. (At 32 the last maps are 1 x 1,
# and BN in train mode over 2 samples of one pixel amplifies round-off to 1e-6.)
SIZE = TILED_SIZE = 64
SPACES = {
    "regnet": ROOT / "generated" / "tse",
    "efficientnet": ROOT / "generated" / "tse_efficientnet",
}


def _original(name: str) -> torch.nn.Module:
    torch.manual_seed(0)
    model = se_network(name).build(num_classes=10).double()
    with torch.no_grad():  # random BN statistics too, so eval mode is not the identity
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.normal_(0, 0.1)
                module.running_var.uniform_(0.5, 1.5)
    return model


def _run(model: torch.nn.Module, x: torch.Tensor, train: bool) -> torch.Tensor:
    model.train(train)
    torch.manual_seed(1)  # EfficientNet's stochastic depth and dropout draw the same masks
    with torch.no_grad():
        return model(x)


@pytest.mark.parametrize("name", list(SE_NETWORKS))
def test_se_genotype_reproduces_the_torchvision_network(name):
    original = _original(name)
    family = SE_NETWORKS[name].family
    result = swap(name, SPACES[family], "se", input_size=SIZE, original=original)
    assert all(s.status == "carried" for s in result.slots)
    assert not se_modules(result.model)  # every SE module is gone
    x = torch.randn(
        2, 3, SIZE, SIZE, dtype=torch.float64, generator=torch.Generator().manual_seed(2)
    )
    for train in (False, True):
        expected, got = _run(original, x, train), _run(result.model, x, train)
        torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", ["regnet_y_800mf", "efficientnet_b0"])
def test_tse_7xw_equals_se_exactly_where_the_map_has_at_most_7_rows(name):
    original = _original(name)
    family = SE_NETWORKS[name].family
    result = swap(name, SPACES[family], "rows_7", input_size=TILED_SIZE, original=original)
    se = dict(se_modules(original))
    swapped = dict(result.model.named_modules())
    short = tall = 0
    for slot in result.slots:
        c, h, w = slot.dims["C"], slot.dims["H"], slot.dims["W"]
        x = torch.randn(2, c, h, w, dtype=torch.float64, generator=torch.Generator().manual_seed(h))
        with torch.no_grad():
            reference, tiled = se[slot.name](x), swapped[slot.name](x)
        if h <= 7:
            short += 1
            torch.testing.assert_close(tiled, reference, rtol=1e-12, atol=1e-12)
        else:
            tall += 1
            assert (tiled - reference).abs().max() > 1e-6, slot.name
    assert short and tall  # both kinds of slot occur at this size
