"""Fused ops of compiled supernet edges (sedsl/codegen/compile.py), copied into supernet.py.

Autograd records every elementwise step of a statistic and keeps its full-size intermediates
(the centred map, its square, x^2, the max mask) for the backward pass; SASE's squeezes take
five statistics of one tensor, so that is some twenty full-size passes and buffers per edge.
`moments` computes them as one node whose gradient is written out by hand: it keeps only
the input and the small statistics, and forms the input's gradient in a few passes.
"""

from __future__ import annotations

import torch
from torch import Tensor


class Moments(torch.autograd.Function):
    """Statistics of x over `dims` (kept as size one), in the order `stats` names them:
    `mean`; `max` (amax); `s2`, the sum of squares about the mean; `m3`, the mean cube about
    the mean; `p2`, `p3`, `p4`, the sums of x^p. The forward runs the very operations of the
    ops they stand for (avg_pool, max_pool, std_pool, skew_pool, lp_pool in
    sedsl/ops/runtime.py), so the values are theirs to the last bit."""

    @staticmethod
    def forward(ctx, x: Tensor, dims: tuple[int, ...], stats: tuple[str, ...]):
        mean = x.mean(dim=dims, keepdim=True)
        found = {"mean": mean}
        if "s2" in stats or "m3" in stats:
            centred = x - mean
            square = centred.square()
            found["s2"] = square.sum(dim=dims, keepdim=True)
            if "m3" in stats:
                found["m3"] = square.mul_(centred).mean(dim=dims, keepdim=True)
        if "max" in stats:
            found["max"] = x.amax(dim=dims, keepdim=True)
        for p in (2, 3, 4):
            if f"p{p}" in stats:
                powered = x.square().square() if p == 4 else x.pow(float(p))
                found[f"p{p}"] = powered.sum(dim=dims, keepdim=True)
        ctx.dims, ctx.stats = dims, stats
        ctx.set_materialize_grads(False)  # an unused statistic gets None: no term
        ctx.save_for_backward(x, mean, found.get("s2"), found.get("max"))
        return tuple(found[s] for s in stats)

    @staticmethod
    def backward(ctx, *grads: Tensor | None):
        x, mean, s2, amax = ctx.saved_tensors
        dims = ctx.dims
        n = 1
        for d in dims:
            n *= x.shape[d]
        # every statistic but max has a gradient that is a cubic in d = x - mean with
        # per-slice coefficients: grad_x = c[0] + c[1] d + c[2] d^2 + c[3] d^3
        c: list[Tensor | None] = [None] * 4

        def add(power: int, term: Tensor) -> None:
            c[power] = term if c[power] is None else c[power] + term

        g_max = None
        for stat, g in zip(ctx.stats, grads, strict=True):
            if g is None:
                continue
            if stat == "mean":
                add(0, g / n)
            elif stat == "max":
                g_max = g
            elif stat == "s2":  # d/dx_i sum (x - m)^2 = 2 d_i (the mean's part sums to 0)
                add(1, 2 * g)
            elif stat == "m3":  # d/dx_i mean (x - m)^3 = 3/n (d_i^2 - s2 / n)
                add(2, 3 * g / n)
                add(0, -3 * g * s2 / (n * n))
            elif stat == "p2":  # 2 x = 2 (d + m)
                add(1, 2 * g)
                add(0, 2 * g * mean)
            elif stat == "p3":  # 3 x^2 = 3 (d + m)^2
                add(2, 3 * g)
                add(1, 6 * g * mean)
                add(0, 3 * g * mean.square())
            elif stat == "p4":  # 4 x^3 = 4 (d + m)^3
                add(3, 4 * g)
                add(2, 12 * g * mean)
                add(1, 12 * g * mean.square())
                add(0, 4 * g * mean.square() * mean)
        top = max((k for k in range(4) if c[k] is not None), default=None)
        grad = None
        if top is not None and top > 0:
            d = x - mean
            grad = c[top]
            for k in range(top - 1, -1, -1):  # Horner: ((c3 d + c2) d + c1) d + c0
                grad = grad * d if c[k] is None else torch.addcmul(c[k], grad, d)
        elif top == 0:
            grad = c[0].expand_as(x)
        if g_max is not None:  # as amax's own backward: shared evenly among the ties
            mask = x == amax
            share = g_max / mask.sum(dim=dims, keepdim=True)
            grad = mask * share if grad is None else torch.addcmul(grad, mask, share)
        if grad is None:
            grad = torch.zeros_like(x)
        return grad, None, None


def moments(x: Tensor, dims: tuple[int, ...], stats: tuple[str, ...]) -> tuple[Tensor, ...]:
    """The statistics `stats` of x over `dims` in one pass (`Moments`)."""
    return Moments.apply(x, dims, stats)
