"""Comparing a generated fixed module with an independent reference (timm's module, or one
written from a paper in the tests): random weights copied by an explicit name mapping, float64,
train mode (batch statistics, and the running statistics they leave) then eval mode."""

from __future__ import annotations

import torch
from torch import nn

from tests.codegen.helpers import load_generated

TOL = {"rtol": 1e-5, "atol": 1e-5}


def randomise(module: nn.Module, seed: int) -> nn.Module:
    """Every float weight and BN statistic drawn at random (running variances positive), so a
    swapped or unmapped tensor cannot pass."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in module.state_dict().items():
            if tensor.is_floating_point():
                values = torch.randn(tensor.shape, generator=generator, dtype=tensor.dtype)
                tensor.copy_(values.abs() + 0.5 if name.endswith("running_var") else values * 0.5)
    return module


def fixed_module(space: str, genotype: str, c: int, h: int, w: int) -> nn.Module:
    _, fixed = load_generated(space)
    return fixed.build_fixed(fixed.GENOTYPES[genotype], c, h, w).double()


Names = dict[str, "str | tuple[str, ...]"]


def _ours(source: dict[str, torch.Tensor], key: str | tuple[str, ...], shape) -> torch.Tensor:
    """Our tensor for one reference entry: one of ours reshaped, or several of ours flattened and
    stacked along a last axis (SRM's CFC is one [C, 2] matrix, here one weight per statistic)."""
    if isinstance(key, tuple):
        return torch.stack([source[k].flatten() for k in key], dim=-1).reshape(shape)
    return source[key].reshape(shape)


def _used(names: Names) -> set[str]:
    return {k for v in names.values() for k in ((v,) if isinstance(v, str) else v)}


def copy_into(reference: nn.Module, mine: nn.Module, names: Names) -> None:
    """reference[key] <- mine[names[key]], reshaped where the reference has a Linear or Conv1d
    and ours a 1x1 conv; every state entry of both modules must be mapped."""
    source, target = mine.state_dict(), reference.state_dict()
    assert set(names) == set(target), sorted(set(names) ^ set(target))
    assert _used(names) == set(source), sorted(_used(names) ^ set(source))
    reference.load_state_dict(
        {key: _ours(source, names[key], target[key].shape).clone() for key in target}
    )


def assert_same_state(reference: nn.Module, mine: nn.Module, names: Names) -> None:
    source = mine.state_dict()
    for key, value in reference.state_dict().items():
        torch.testing.assert_close(
            _ours(source, names[key], value.shape), value, rtol=0, atol=1e-9, msg=key
        )


def _close(actual: torch.Tensor, expected: torch.Tensor, rtol: float, atol: float) -> bool:
    """torch.isclose's test in two passes; isclose itself takes most of a comparison's time on
    the millions of float64 values of an ImageNet-stage point."""
    return bool(((actual - expected).abs() <= atol + rtol * expected.abs()).all())


def assert_computes_the_same(
    mine: nn.Module,
    reference: nn.Module,
    names: dict[str, str],
    size: tuple[int, int, int],
    what: str,
    batch: int = 4,
) -> None:
    """Copy the weights, then compare in train mode and in eval mode on one random batch."""
    copy_into(reference, mine, names)
    generator = torch.Generator().manual_seed(9)
    x = torch.randn(batch, *size, dtype=torch.float64, generator=generator)
    for train in (True, False):
        mine.train(train), reference.train(train)
        torch.manual_seed(train)  # the same dropout masks on both sides (BAT's Dropout2d)
        expected = reference(x)
        torch.manual_seed(train)
        actual = mine(x)
        if actual.shape != expected.shape or not _close(actual, expected, **TOL):
            torch.testing.assert_close(actual, expected, **TOL, msg=f"{what} train={train}")
        assert_same_state(reference, mine, names)  # the running statistics moved alike
        assert not _close(expected, x, rtol=1e-5, atol=1e-8)  # the block does something
