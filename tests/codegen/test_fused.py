"""The hand-written gradient of sedsl/ops/fused.py's `moments` against autograd: gradcheck in
float64, and equality with the autograd graph of the ops it stands for (runtime.py)."""

from __future__ import annotations

import itertools

import pytest
import torch

from sedsl.ops import runtime
from sedsl.ops.fused import moments

STATS = ("mean", "max", "s2", "m3", "p2", "p3", "p4")
DIMS = [(2, 3), (1,)]


def _reference(x: torch.Tensor, dims, stat: str) -> torch.Tensor:
    """The statistic as the unfused ops compute it, through autograd."""
    centred = x - x.mean(dim=dims, keepdim=True)
    return {
        "mean": lambda: x.mean(dim=dims, keepdim=True),
        "max": lambda: x.amax(dim=dims, keepdim=True),
        "s2": lambda: centred.square().sum(dim=dims, keepdim=True),
        "m3": lambda: runtime.skew_pool(x, dims),
        "p2": lambda: x.pow(2.0).sum(dim=dims, keepdim=True),
        "p3": lambda: x.pow(3.0).sum(dim=dims, keepdim=True),
        "p4": lambda: runtime.lp_pool(x, dims, 4.0).pow(4.0),
    }[stat]()


@pytest.mark.parametrize("dims", DIMS)
@pytest.mark.parametrize("stats", [(s,) for s in STATS] + [STATS, ("max", "mean"), ("p4", "m3")])
def test_gradcheck(dims, stats):
    torch.manual_seed(0)
    x = torch.randn(2, 3, 4, 5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: moments(t, dims, stats), (x,))


@pytest.mark.parametrize("dims", DIMS)
def test_equals_autograd_of_the_unfused_ops(dims):
    """Values and the input's gradient under random output gradients, some statistics unused,
    to 1e-10 relative (test_compiled's tolerance), on an input with a non-zero mean."""
    torch.manual_seed(1)
    x = (torch.randn(4, 8, 6, 6, dtype=torch.float64) + 0.7).requires_grad_()
    for size in (1, 2, 4, len(STATS)):
        for stats in itertools.islice(itertools.permutations(STATS, size), 12):
            fused = moments(x, dims, stats)
            plain = [_reference(x, dims, s) for s in stats]
            used = [i for i in range(len(stats)) if i % 3 != 2 or len(stats) == 1]
            weights = [torch.randn_like(plain[i]) for i in used]
            (gf,) = torch.autograd.grad(
                sum((fused[i] * w).sum() for i, w in zip(used, weights, strict=True)), x
            )
            (gp,) = torch.autograd.grad(
                sum((plain[i] * w).sum() for i, w in zip(used, weights, strict=True)), x
            )
            for a, b in zip(fused, plain, strict=True):
                torch.testing.assert_close(a, b, rtol=1e-10, atol=0)
            torch.testing.assert_close(gf, gp, rtol=1e-10, atol=1e-12)


def test_max_shares_ties_as_amax_does():
    x = torch.tensor([[[[1.0, 3.0], [3.0, 0.0]]]], dtype=torch.float64, requires_grad=True)
    (value,) = moments(x, (2, 3), ("max",))
    value.sum().backward()
    assert x.grad.flatten().tolist() == [0.0, 0.5, 0.5, 0.0]


def test_unused_statistics_give_a_zero_gradient():
    x = torch.randn(2, 3, 4, 4, dtype=torch.float64, requires_grad=True)
    mean, _ = moments(x, (1,), ("mean", "s2"))
    (mean * 0).sum().backward()
    assert torch.equal(x.grad, torch.zeros_like(x))
