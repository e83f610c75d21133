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
        if torch.is_grad_enabled():  # double backward (create_graph): the saved mean and s2
            # are constants to autograd, so take them again from x, whose graph they follow
            mean = x.mean(dim=dims, keepdim=True)
            if s2 is not None:
                s2 = (x - mean).square().sum(dim=dims, keepdim=True)
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
            # a mask of x's dtype: summing and multiplying a bool mask converts it each time,
            # about 1.5-2x slower on CPU than converting once (measured)
            mask = (x == amax).to(x.dtype)
            share = g_max / mask.sum(dim=dims, keepdim=True)
            grad = mask * share if grad is None else torch.addcmul(grad, mask, share)
        if grad is None:
            grad = torch.zeros_like(x)
        return grad, None, None


def moments(x: Tensor, dims: tuple[int, ...], stats: tuple[str, ...]) -> tuple[Tensor, ...]:
    """The statistics `stats` of x over `dims` in one pass (`Moments`)."""
    return Moments.apply(x, dims, stats)


class GatedSum(torch.autograd.Function):
    """x * (g_1 + ... + g_k) * scale, the gates g broadcasting against x along different axes
    (SASE's block output x * (a_ch [B, C, 1, 1] + a_sp [B, 1, H, W]) / 2). Autograd would keep
    the full-size sum of the gates for the product's backward; this keeps only x and the
    small gates, and forms the sum again in backward (one pass, cheaper than keeping it).
    Its backward is made of differentiable ops, so double backward works through it."""

    @staticmethod
    def forward(ctx, x: Tensor, scale: float, *gates: Tensor) -> Tensor:
        ctx.scale = scale
        ctx.save_for_backward(x, *gates)
        return x * _scaled_sum(gates, scale)

    @staticmethod
    def backward(ctx, g: Tensor):
        x, *gates = ctx.saved_tensors
        grad_x = g * _scaled_sum(gates, ctx.scale) if ctx.needs_input_grad[0] else None
        grads = []
        if any(ctx.needs_input_grad[2:]):
            product = g * x
            for gate in gates:  # each gate's gradient: the product summed over its broadcast
                grads.append(product.sum_to_size(gate.shape) * ctx.scale)
        else:
            grads = [None] * len(gates)
        return grad_x, None, *grads


def _scaled_sum(gates: tuple[Tensor, ...] | list[Tensor], scale: float) -> Tensor:
    """scale * (g_1 + ... + g_k), the scale applied to the small gates before they broadcast."""
    total = gates[0] * scale
    for gate in gates[1:]:
        total = torch.add(total, gate, alpha=scale)
    return total


def gated_sum(x: Tensor, gates: tuple[Tensor, ...], scale: float) -> Tensor:
    """x * (sum of `gates`) * scale by `GatedSum`, keeping only x and the gates for backward."""
    return GatedSum.apply(x, scale, *gates)


def instance_norm_l2(s2: Tensor, count: int, pool: torch.nn.Module) -> Tensor:
    """NormL2Pool over H, W (sedsl/ops/runtime.py), instance norm then the L2 norm per
    channel, from s2, the sum of squares about the mean over H, W that `moments` gives: the
    closed form NormL2Pool computes, with the biased variance s2 / count in place of its
    own `x.var` pass (slow on CPU) and that pass's backward."""
    var = s2 / count
    weight = pool.norm.weight.reshape(1, -1, 1, 1)
    bias = pool.norm.bias.reshape(1, -1, 1, 1)
    return (count * (weight * weight * var / (var + pool.norm.eps) + bias * bias)).sqrt()


class ChannelNormL2(torch.autograd.Function):
    """NormL2Pool over C (sedsl/ops/runtime.py): LayerNorm over (H, W) of every channel map,
    then the L2 norm across channels per position. Autograd keeps the full-size normalised
    map for the square's backward; this keeps x and the small statistics and normalises
    again in backward (ATen's fused LayerNorm, one pass), whose gradient then runs as ATen's
    own LayerNorm backward. Double backward works: under create_graph the map and its norm
    are taken again from x, through differentiable ops."""

    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor, bias: Tensor, eps: float) -> Tensor:
        shape = tuple(x.shape[-2:])
        normed, mean, rstd = torch.native_layer_norm(x, shape, weight, bias, eps)
        # square, sum, sqrt: torch.linalg.vector_norm over dim 1 is ~30x slower on CPU
        out = normed.square().sum(dim=1, keepdim=True).sqrt()
        ctx.eps = eps
        ctx.save_for_backward(x, weight, bias, mean, rstd, out)
        return out

    @staticmethod
    def backward(ctx, g: Tensor):
        x, weight, bias, mean, rstd, out = ctx.saved_tensors
        shape = tuple(x.shape[-2:])
        normed = torch.native_layer_norm(x, shape, weight, bias, ctx.eps)[0]
        if torch.is_grad_enabled():  # double backward: the saved norm is a constant to
            # autograd, so take it again from x (LayerNorm's own double backward covers how
            # the mean and rstd it is given depend on x)
            out = normed.square().sum(dim=1, keepdim=True).sqrt()
        grad_normed = normed * (g / out)  # d sqrt(sum_c z^2) / dz = z / norm
        mask = list(ctx.needs_input_grad[:3])
        grads = torch.ops.aten.native_layer_norm_backward(
            grad_normed, x, shape, mean, rstd, weight, bias, mask
        )
        return (*grads, None)


def channel_norm_l2(x: Tensor, pool: torch.nn.Module) -> Tensor:
    """pool(x) for NormL2Pool over C with an affine LayerNorm, by `ChannelNormL2`; any other
    module (changed since) runs as itself."""
    norm = getattr(pool, "norm", None)
    plain = (
        type(norm) is torch.nn.LayerNorm
        and norm.weight is not None
        and norm.bias is not None
        and tuple(norm.normalized_shape) == tuple(x.shape[-2:])
    )
    if not plain:
        return pool(x)
    return ChannelNormL2.apply(x, norm.weight, norm.bias, norm.eps)


class SameConv2d(torch.autograd.Function):
    """conv2d at stride 1 with 'same' zero padding (odd kernels), its input's gradient as a
    forward convolution. On CPU, oneDNN's backward of the small, grouped or dilated
    convolutions attention candidates use (one or two channels; depth-wise on a few
    channels, dilated) is several times slower than a forward convolution of the same size.
    The input's gradient is the forward conv of the output's gradient with the kernels
    flipped, in and out swapped within each group; without groups or dilation, the kernels'
    gradient is the forward conv of the input, batch and channels swapped, with the output's
    gradient (swapped alike) as its kernel, else ATen's weight-only backward. Grouped convs
    run as `grouped` lays them out. All are differentiable, so double backward (the
    exact second-order search) works through them."""

    @staticmethod
    def grouped(x: Tensor, weight: Tensor, bias: Tensor | None, conf: tuple) -> Tensor:
        """A grouped conv2d at stride 1 as oneDNN runs it fast on CPU. oneDNN pads NCHW
        channels to a multiple of 16 in a blocked copy, which for a depth-wise conv on a few
        channels at 32x32 costs more than the conv itself: with fewer, the batch is folded
        into the channels ([B, C, H, W] as [1, B C, H, W], no copy of a contiguous x; the
        kernels repeated per sample); else it runs on a channels-last copy. The output is NCHW."""
        padding, dilation, groups = conf
        b, c, h, w = x.shape
        if c % 16 != 0:
            folded_bias = None if bias is None else bias.repeat(b)
            out = torch.nn.functional.conv2d(
                x.reshape(1, b * c, h, w),
                weight.repeat(b, 1, 1, 1),
                folded_bias,
                1,
                padding,
                dilation,
                b * groups,
            )
            return out.reshape(b, -1, h, w)
        last = x.contiguous(memory_format=torch.channels_last)
        out = torch.nn.functional.conv2d(last, weight, bias, 1, padding, dilation, groups)
        return out.contiguous()

    @staticmethod
    def weight_grad(x: Tensor, g: Tensor, weight: Tensor, conf: tuple) -> Tensor:
        """The kernels' gradient of a stride-1 conv2d by ATen's weight-only backward; grouped,
        as `grouped` lays the conv out (folded: summed over the samples after)."""
        padding, dilation, groups = conf
        b, c, h, w = x.shape
        fold = groups > 1 and c % 16 != 0 and dilation == 1  # oneDNN's folded dilated one is slow
        if fold:
            x, g = x.reshape(1, b * c, h, w), g.reshape(1, -1, h, w)
            weight, groups = weight.repeat(b, 1, 1, 1), b * groups
        elif groups > 1:
            x = x.contiguous(memory_format=torch.channels_last)
            g = g.contiguous(memory_format=torch.channels_last)
        grad = torch.ops.aten.convolution_backward(
            g,
            x,
            weight,
            None,
            [1, 1],
            list(padding),
            [dilation, dilation],
            False,
            [0, 0],
            groups,
            [False, True, False],
        )[1]
        return grad.reshape(b, -1, *grad.shape[1:]).sum(0) if fold else grad

    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor, bias: Tensor | None, dilation: int, groups: int):
        padding = (dilation * (weight.shape[-2] // 2), dilation * (weight.shape[-1] // 2))
        ctx.save_for_backward(x, weight)
        ctx.conf = (padding, dilation, groups)
        ctx.has_bias = bias is not None
        if groups > 1:
            return SameConv2d.grouped(x, weight, bias, ctx.conf)
        return torch.nn.functional.conv2d(x, weight, bias, 1, padding, dilation, groups)

    @staticmethod
    def backward(ctx, g: Tensor):
        x, weight = ctx.saved_tensors
        padding, dilation, groups = ctx.conf
        g = g.contiguous()
        grad_x = grad_w = grad_b = None
        if ctx.needs_input_grad[0]:
            out, per_group, kh, kw = weight.shape
            swapped = weight.flip(-2, -1).reshape(groups, out // groups, per_group, kh, kw)
            swapped = swapped.transpose(1, 2).reshape(groups * per_group, out // groups, kh, kw)
            if groups > 1:
                grad_x = SameConv2d.grouped(g, swapped, None, ctx.conf)
            else:
                grad_x = torch.nn.functional.conv2d(g, swapped, None, 1, padding, dilation)
        if ctx.needs_input_grad[1]:
            if groups == 1 and dilation == 1:
                grad_w = torch.nn.functional.conv2d(
                    x.transpose(0, 1), g.transpose(0, 1), None, 1, padding
                ).transpose(0, 1)
            else:
                grad_w = SameConv2d.weight_grad(x, g, weight, ctx.conf)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_b = g.sum(dim=(0, 2, 3))
        return grad_x, grad_w, grad_b, None, None


def conv2d_same(
    x: Tensor, weight: Tensor, bias: Tensor | None, dilation: int = 1, groups: int = 1
) -> Tensor:
    """conv2d at stride 1 with 'same' zero padding (odd kernels), by `SameConv2d` where that
    is faster on CPU (measured, forward + backward): at most 8 in x out channels without
    groups (2-3x), any dilated conv (about 2x; a 4-channel depth-wise one at 32x32: 4x), a
    grouped one on fewer than 16 channels (a 4-channel depth-wise 3x3 at 32x32: 9x)."""
    small = groups == 1 and weight.shape[0] * weight.shape[1] <= 8
    few = groups > 1 and x.shape[1] % 16 != 0
    if x.device.type == "cpu" and (small or few or dilation > 1):
        return SameConv2d.apply(x, weight, bias, dilation, groups)
    padding = (dilation * (weight.shape[-2] // 2), dilation * (weight.shape[-1] // 2))
    return torch.nn.functional.conv2d(x, weight, bias, 1, padding, dilation, groups)


def same_conv2d(x: Tensor, conv: torch.nn.Conv2d) -> Tensor:
    """conv(x) for a candidate's stride-1 'same' conv, by `conv2d_same`; any other conv (its
    module changed since) runs as itself."""
    kh, kw = conv.weight.shape[-2:]
    d = conv.dilation[0]
    plain = (
        type(conv) is torch.nn.Conv2d
        and conv.stride == (1, 1)
        and conv.dilation == (d, d)
        and conv.padding_mode == "zeros"
        and conv.padding == (d * (kh // 2), d * (kw // 2))
        and kh % 2 == 1
        and kw % 2 == 1
    )
    return conv2d_same(x, conv.weight, conv.bias, d, conv.groups) if plain else conv(x)
