"""The weight optimizer of search and training: torch's SGD, with its fused kernel.

A supernet has ~650 small weight tensors; the default CPU SGD runs ~4 Python-dispatched ops per
tensor per step (~40 ms a step on SASE), the fused kernel one call per tensor (~7 ms). The update
is the same (the architect's unrolled step replays it); only rounding may differ.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor


def make_sgd(
    params: Iterable[Tensor], lr: float, *, momentum: float = 0.0, weight_decay: float = 0.0
) -> torch.optim.SGD:
    params = list(params)
    try:
        return torch.optim.SGD(params, lr, momentum=momentum, weight_decay=weight_decay, fused=True)
    except (TypeError, RuntimeError):  # torch < 2.4 on CPU, or a device without the kernel
        return torch.optim.SGD(
            params, lr, momentum=momentum, weight_decay=weight_decay, foreach=True
        )
