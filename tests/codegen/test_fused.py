"""The hand-written gradients of sedsl/ops/fused.py (`moments`, `SameConv2d`, `gated_sum`,
`instance_norm_l2`, `channel_norm_l2`) against autograd:
gradcheck in float64, and equality with the autograd graph of the ops they stand for."""

from __future__ import annotations

import itertools

import pytest
import torch
import torch.nn.functional as F

from sedsl.ops import runtime
from sedsl.ops.fused import (
    ChannelNormL2,
    SameConv2d,
    channel_norm_l2,
    conv2d_same,
    gated_sum,
    instance_norm_l2,
    moments,
    same_conv2d,
)

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
    if "max" not in stats:  # amax's second derivative is zero where it has one
        assert torch.autograd.gradgradcheck(lambda t: moments(t, dims, stats), (x,))


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


@pytest.mark.parametrize(
    "shape, dilation, groups",
    [
        ((1, 1, 3, 3), 1, 1),
        ((1, 2, 7, 7), 1, 1),
        ((3, 2, 3, 5), 1, 1),
        ((6, 1, 5, 5), 1, 1),
        ((1, 2, 3, 3), 2, 1),
        ((4, 1, 3, 3), 2, 4),  # depth-wise on few channels: the batch folded in
        ((4, 1, 3, 3), 1, 4),
        ((8, 1, 3, 3), 1, 4),  # two outputs per group
        ((4, 2, 3, 3), 1, 2),
        ((16, 1, 3, 3), 2, 16),  # on 16 channels: channels-last
    ],
)
@pytest.mark.parametrize("bias", [False, True])
def test_same_conv_gradcheck(shape, dilation, groups, bias):
    """SameConv2d's backward (forward convs) against finite differences, and its gradients
    against conv2d's own autograd, double backward included (the exact second-order search)."""
    torch.manual_seed(2)
    out, per_group, kh, kw = shape
    x = torch.randn(2, per_group * groups, 6, 7, dtype=torch.float64, requires_grad=True)
    w = torch.randn(shape, dtype=torch.float64, requires_grad=True)
    b = torch.randn(out, dtype=torch.float64, requires_grad=True) if bias else None
    args = (x, w) + ((b,) if bias else ())

    def conv(*a):
        return SameConv2d.apply(a[0], a[1], a[2] if bias else None, dilation, groups)

    assert torch.autograd.gradcheck(conv, args)
    assert torch.autograd.gradgradcheck(conv, args)
    padding = (dilation * (kh // 2), dilation * (kw // 2))
    g = torch.randn(2, out, 6, 7, dtype=torch.float64)
    fused = torch.autograd.grad((conv(*args) * g).sum(), args)
    plain = torch.autograd.grad((F.conv2d(x, w, b, 1, padding, dilation, groups) * g).sum(), args)
    for a, c in zip(fused, plain, strict=True):
        torch.testing.assert_close(a, c, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("channels, dilation", [(4, 1), (4, 2), (16, 2)])
def test_conv2d_same_grouped_on_a_split_view(channels, dilation):
    """A depth-wise conv of one group of a channel split (HOGA's edges read such views),
    through conv2d_same's choice of layout, against conv2d, gradients included."""
    torch.manual_seed(3)
    whole = torch.randn(3, 2 * channels, 5, 6, dtype=torch.float64, requires_grad=True)
    w = torch.randn(channels, 1, 3, 3, dtype=torch.float64, requires_grad=True)
    b = torch.randn(channels, dtype=torch.float64, requires_grad=True)
    x = whole[:, channels:]
    g = torch.randn(3, channels, 5, 6, dtype=torch.float64)
    fused = conv2d_same(x, w, b, dilation, channels)
    plain = F.conv2d(x, w, b, 1, dilation, dilation, channels)
    torch.testing.assert_close(fused, plain, rtol=1e-12, atol=1e-12)
    args = (whole, w, b)
    for a, c in zip(
        torch.autograd.grad((fused * g).sum(), args),
        torch.autograd.grad((plain * g).sum(), args),
        strict=True,
    ):
        torch.testing.assert_close(a, c, rtol=1e-12, atol=1e-12)


def test_same_conv2d_runs_any_other_conv_as_itself():
    conv = torch.nn.Conv2d(2, 1, 3, padding=1, dilation=2).double()  # not 'same
    x = torch.randn(2, 2, 5, 5, dtype=torch.float64)
    assert torch.equal(same_conv2d(x, conv), conv(x))


def _gates():
    torch.manual_seed(3)
    x = torch.randn(3, 4, 5, 6, dtype=torch.float64, requires_grad=True)
    channel = torch.rand(3, 4, 1, 1, dtype=torch.float64, requires_grad=True)
    spatial = torch.rand(3, 1, 5, 6, dtype=torch.float64, requires_grad=True)
    return x, channel, spatial


def test_gated_sum_gradcheck_and_gradgradcheck():
    x, channel, spatial = _gates()

    def fused(x, a, b):
        return gated_sum(x, (a, b), 0.5)

    assert torch.autograd.gradcheck(fused, (x, channel, spatial))
    assert torch.autograd.gradgradcheck(fused, (x, channel, spatial))


def test_gated_sum_equals_autograd_of_the_product():
    x, channel, spatial = _gates()
    fused = gated_sum(x, (channel, spatial), 1 / 3)
    plain = x * (channel + spatial) / 3
    weight = torch.randn_like(plain)
    gf = torch.autograd.grad((fused * weight).sum(), (x, channel, spatial))
    gp = torch.autograd.grad((plain * weight).sum(), (x, channel, spatial))
    torch.testing.assert_close(fused, plain, rtol=1e-12, atol=0)
    for a, b in zip(gf, gp, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_gated_sum_keeps_no_full_size_tensor_but_x():
    x, channel, spatial = _gates()
    kept = []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: kept.append(t) or t, lambda t: t):
        gated_sum(x, (channel, spatial), 0.5)
    assert [t.shape for t in kept if t.numel() == x.numel()] == [x.shape]


def test_instance_norm_l2_equals_norm_l2_pool():
    torch.manual_seed(4)
    pool = runtime.NormL2Pool(4, 5, 6, (2, 3)).double()
    with torch.no_grad():
        pool.norm.weight.uniform_(0.5, 1.5)
        pool.norm.bias.uniform_(-1, 1)
    x = (torch.randn(3, 4, 5, 6, dtype=torch.float64) * 1e-3).requires_grad_()  # var ~ eps
    (s2,) = moments(x, (2, 3), ("s2",))
    fused = instance_norm_l2(s2, 30, pool)
    plain = pool(x)
    torch.testing.assert_close(fused, plain, rtol=1e-10, atol=0)
    gf = torch.autograd.grad(fused.sum(), (x, pool.norm.weight, pool.norm.bias))
    gp = torch.autograd.grad(plain.sum(), (x, pool.norm.weight, pool.norm.bias))
    for a, b in zip(gf, gp, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-15)


def _channel_pool():
    torch.manual_seed(5)
    pool = runtime.NormL2Pool(4, 5, 6, (1,)).double()
    with torch.no_grad():
        pool.norm.weight.uniform_(0.5, 1.5)
        pool.norm.bias.uniform_(-1, 1)
    x = (torch.randn(3, 4, 5, 6, dtype=torch.float64) + 0.3).requires_grad_()
    return pool, x


def test_channel_norm_l2_gradcheck_and_gradgradcheck():
    pool, x = _channel_pool()
    norm = pool.norm

    def fused(x, weight, bias):
        return ChannelNormL2.apply(x, weight, bias, norm.eps)

    assert torch.autograd.gradcheck(fused, (x, norm.weight, norm.bias))
    assert torch.autograd.gradgradcheck(fused, (x, norm.weight, norm.bias))


def test_channel_norm_l2_equals_norm_l2_pool_and_keeps_only_small_tensors_but_x():
    pool, x = _channel_pool()
    kept = []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: kept.append(t) or t, lambda t: t):
        fused = channel_norm_l2(x, pool)
    assert [t.shape for t in kept if t.numel() == x.numel()] == [x.shape]
    plain = pool(x)
    torch.testing.assert_close(fused, plain, rtol=1e-10, atol=0)
    weights = (x, pool.norm.weight, pool.norm.bias)
    w = torch.randn_like(plain)
    gf = torch.autograd.grad((fused * w).sum(), weights)
    gp = torch.autograd.grad((plain * w).sum(), weights)
    for a, b in zip(gf, gp, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("size", [8, 16, 14])
def test_spatial_covariance_pool_fast_paths_equal_adaptive_pooling(size):
    """At H = W = 8 the pooling to the 8 x 8 grid is skipped, at multiples of 8 the way back
    is a broadcast (sedsl/ops/runtime.py): the same values and gradients as ATen's adaptive
    pooling both ways (14: the general path)."""
    torch.manual_seed(6)
    pool = runtime.SpatialCovariancePool(6).double()
    x = torch.randn(2, 6, size, size, dtype=torch.float64, requires_grad=True)

    def adaptive(x):
        b, _, h, w = x.shape
        z = F.adaptive_avg_pool2d(x, 8).flatten(2)
        z = z - z.mean(dim=1, keepdim=True)
        cov = (z.transpose(1, 2) @ z / (z.shape[2] - 1)).unsqueeze(-1)
        rows = pool.expand(torch.relu(pool.row_conv(pool.norm(cov))))
        return F.adaptive_avg_pool2d(rows.reshape(b, 1, 8, 8), (h, w))

    fast, plain = pool(x), adaptive(x)
    torch.testing.assert_close(fast, plain, rtol=1e-12, atol=0)
    w = torch.randn_like(plain)
    (gf,) = torch.autograd.grad((fast * w).sum(), x)
    (gp,) = torch.autograd.grad((plain * w).sum(), x)
    torch.testing.assert_close(gf, gp, rtol=1e-10, atol=1e-13)
