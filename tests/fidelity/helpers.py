"""Helpers of the fidelity tests: random non-default weights, weight copying, and the
float64 comparison of outputs and input gradients in train and eval mode."""

from __future__ import annotations

import torch
from torch import Tensor, nn

TOL = {"rtol": 1e-9, "atol": 1e-11}
BATCH = 2


def randomise(module: nn.Module, seed: int) -> nn.Module:
    """Every floating tensor of the state dict drawn from N(0, 0.5^2) (running variances
    positive), so no weight keeps its default: a bias that starts at zero, an affine that
    starts at (1, 0) or a BN at its identity statistics cannot hide a difference."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in module.state_dict().items():
            if not tensor.is_floating_point():
                continue
            values = torch.randn(tensor.shape, generator=generator, dtype=torch.float64) * 0.5
            if name.endswith("running_var"):
                values = values.abs() + 0.5
            tensor.copy_(values)
    return module


def float_tensors(module: nn.Module) -> list[tuple[str, Tensor]]:
    return [(k, v) for k, v in module.state_dict().items() if v.is_floating_point()]


def copy_in_order(target: nn.Module, source: nn.Module) -> None:
    """target's floating state (weights, BN statistics) <- source's, entry by entry in
    registration order, reshaped where the layouts differ but the sizes agree (sedsl's Mix
    holds (2,) where the code's 1x1 conv holds (1, 2, 1, 1)). Refuses when the two do not
    have the same number of tensors of the same sizes: an extra bias on either side fails
    here, before any number is compared."""
    dst, src = float_tensors(target), float_tensors(source)
    shapes = ([tuple(v.shape) for _, v in dst], [tuple(v.shape) for _, v in src])
    assert len(dst) == len(src), f"different state: {shapes[0]} vs {shapes[1]}"
    with torch.no_grad():
        for (name, d), (_, s) in zip(dst, src, strict=True):
            assert d.numel() == s.numel(), f"{name}: {tuple(d.shape)} vs {tuple(s.shape)}"
            d.copy_(s.reshape(d.shape))


def parameter_count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def outputs_and_gradients(module: nn.Module, x: Tensor) -> tuple[Tensor, Tensor]:
    """The output and the gradient of sum(output * probe) with respect to the input, for a
    fixed random probe: one forward pass, so train mode updates BN statistics once."""
    x = x.detach().clone().requires_grad_(True)
    out = module(x)
    probe = torch.randn(out.shape, generator=torch.Generator().manual_seed(99), dtype=x.dtype)
    (grad,) = torch.autograd.grad((out * probe).sum(), x)
    return out.detach(), grad


def assert_same_function(
    ours: nn.Module, theirs: nn.Module, x: Tensor, modes=("train", "eval"), **tol
) -> None:
    """Equal outputs and input gradients in each mode, float64. Train mode runs first, from
    the same BN statistics on both sides, so both update them identically before eval."""
    tol = tol or TOL
    for mode in modes:
        ours.train(mode == "train")
        theirs.train(mode == "train")
        out_ours, grad_ours = outputs_and_gradients(ours, x)
        out_theirs, grad_theirs = outputs_and_gradients(theirs, x)
        what = f"{mode} mode"
        torch.testing.assert_close(out_ours, out_theirs, **tol, msg=lambda m: f"{what}: {m}")  # noqa: B023
        torch.testing.assert_close(
            grad_ours,
            grad_theirs,
            **tol,
            msg=lambda m: f"{what}, input gradient: {m}",  # noqa: B023
        )
