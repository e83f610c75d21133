"""Helpers of compiled supernet edges (sedsl/codegen/compile.py), copied into supernet.py.

Each runs several candidates' modules as one call and reads their weights where they live,
so every candidate keeps its own parameters (and the state dict stays the reference's).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from sedsl.ops.fused import conv2d_same


def stacked_conv2d(x: Tensor, convs: tuple[nn.Conv2d, ...], size: int) -> tuple[Tensor, ...]:
    """Every conv of `convs` ('same' padding, odd kernels, no groups or dilation) applied to
    x as one conv2d: the kernels zero-padded to size x size and stacked along the output
    channels, biases alike (zero where a conv has none). One output per conv."""
    weights = []
    for conv in convs:
        kh, kw = conv.weight.shape[-2:]
        pad_w, pad_h = (size - kw) // 2, (size - kh) // 2
        weights.append(nn.functional.pad(conv.weight, (pad_w, pad_w, pad_h, pad_h)))
    bias = None
    if any(conv.bias is not None for conv in convs):
        bias = torch.cat(
            [c.bias if c.bias is not None else c.weight.new_zeros(c.out_channels) for c in convs]
        )
    out = conv2d_same(x, torch.cat(weights), bias)  # sedsl/ops/fused.py
    return torch.split(out, [conv.out_channels for conv in convs], dim=1)


def stacked_channel_conv1d(
    x: Tensor, convs: tuple[nn.Module, ...], size: int
) -> tuple[Tensor, ...]:
    """Every ChannelConv1d of `convs` (zero padding) across the channels of a [B, C, 1, 1]
    descriptor as one conv1d with one output channel per conv, kernels zero-padded to
    `size`. One [B, C, 1, 1] output per conv."""
    b, c = x.shape[0], x.shape[1]
    weights = []
    for module in convs:
        pad = (size - module.conv.weight.shape[-1]) // 2
        weights.append(nn.functional.pad(module.conv.weight, (pad, pad)))
    bias = None
    if any(m.conv.bias is not None for m in convs):
        bias = torch.cat(
            [m.conv.bias if m.conv.bias is not None else m.conv.weight.new_zeros(1) for m in convs]
        )
    out = nn.functional.conv1d(x.reshape(b, 1, c), torch.cat(weights), bias, padding=size // 2)
    return tuple(out[:, i].reshape(b, c, 1, 1) for i in range(len(convs)))


def recomputed(edge: nn.Module, fn: Callable[..., Tensor], *args: Tensor) -> Tensor:
    """fn(*args) under torch.utils.checkpoint: its intermediates are recomputed in backward
    instead of kept. The recomputation runs with the weights the forward ran with, passed
    through the checkpoint: a search's torch.func.functional_call swaps other tensors into
    `edge` only while its forward runs, and autograd's version check then still catches a
    weight changed in place between forward and backward."""
    slots = [(m, n) for m in edge.modules() for n, w in m._parameters.items() if w is not None]
    held = [m._parameters[leaf] for m, leaf in slots]

    def run(*values: Tensor) -> Tensor:
        swapped = []
        try:
            for (module, leaf), value in zip(slots, values[len(args) :], strict=True):
                if module._parameters[leaf] is not value:
                    swapped.append((module, leaf, module._parameters[leaf]))
                    module._parameters[leaf] = value
            return fn(*values[: len(args)])
        finally:
            for module, leaf, old in swapped:
                module._parameters[leaf] = old

    return checkpoint(run, *args, *held, use_reentrant=False)
