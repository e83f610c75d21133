"""Multiply-accumulates, measured with `torch.utils.flop_counter.FlopCounterMode`.

One forward at batch 1 on the meta device (shapes only, no arithmetic), in eval mode.
FlopCounterMode counts a multiply-add as 2 FLOPs, so MACs = FLOPs / 2. It counts the
matrix products (convolutions, linear layers, matmul, attention); pooling, normalisation,
activations and elementwise products are not counted, as in fvcore and most papers'
tables, so an attention block's MACs are those of its convolutions and FC layers.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


def count_macs(module: nn.Module, input_shape: tuple[int, ...]) -> int:
    """MACs of one forward of `module` on a tensor of `input_shape` (batch included).

    Moves `module` to the meta device, in place (a copy would cost more than the count):
    count its parameters first, and do not train it afterwards.
    """
    module.to("meta").eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        module(torch.empty(*input_shape, device="meta"))
    return counter.get_total_flops() // 2
