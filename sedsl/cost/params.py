"""Parameters, counted from the instantiated modules (never from a formula)."""

from __future__ import annotations

from torch import nn


def count_params(module: nn.Module) -> int:
    """Elements of every parameter, each shared parameter counted once."""
    return sum(p.numel() for p in module.parameters())
