"""Carry a trained SE's weights into the block that replaces it.

SE's parameters, in the order torchvision registers them (fc1.weight, fc1.bias,
fc2.weight, fc2.bias), pair with the replacement's parameters in the order the generated
module registers them. TSE keeps SE's excitation as 1x1 convs with biases (seed 002,
section 3.1), so the two lists pair one to one with equal shapes and the weights load
unchanged. Any other block carries only when its parameters pair the same way; otherwise
the slot is refused with both shapes named, or, when fresh weights are allowed, keeps its
initialisation and the report says so.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


class CarryError(ValueError):
    """A slot whose SE weights cannot go into its replacement."""


@dataclass(frozen=True)
class Carried:
    source: str  # SE parameter ("fc1.weight")
    target: str  # block parameter ("y.hidden_conv2d.weight")
    shape: tuple[int, ...]


@dataclass(frozen=True)
class SlotCarry:
    status: str  # carried | fresh
    tensors: tuple[Carried, ...]
    reason: str = ""  # why a fresh slot could not carry


def carry_weights(slot: str, se: nn.Module, block: nn.Module, *, allow_fresh: bool) -> SlotCarry:
    """Copy `se`'s parameters into `block` (in place), or explain why not."""
    source = list(se.named_parameters())
    target = list(block.named_parameters())
    problem = _mismatch(source, target)
    if problem:
        if not allow_fresh:
            raise CarryError(
                f"slot {slot}: cannot carry the SE weights: {problem} "
                "(pass --fresh to keep the new block's initialisation there)"
            )
        return SlotCarry("fresh", (), problem)
    with torch.no_grad():
        for (_, s), (_, t) in zip(source, target, strict=True):
            t.copy_(s.to(t.dtype))
    return SlotCarry(
        "carried",
        tuple(
            Carried(sn, tn, tuple(s.shape)) for (sn, s), (tn, _) in zip(source, target, strict=True)
        ),
    )


def _mismatch(source, target) -> str:
    if len(source) != len(target):
        return (
            f"SE has {len(source)} tensors ({_shapes(source)}), "
            f"the block has {len(target)} ({_shapes(target) or 'none'})"
        )
    for (sn, s), (tn, t) in zip(source, target, strict=True):
        if s.shape != t.shape:
            return f"SE {sn} is {tuple(s.shape)} but block {tn} is {tuple(t.shape)}"
    return ""


def _shapes(params) -> str:
    return ", ".join(f"{n} {tuple(p.shape)}" for n, p in params)
