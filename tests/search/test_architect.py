"""The DARTS architect: unrolled step, Hessian-vector products, hypergradients, refusals."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from sedsl.search.architect import Architect, hvp_exact, hvp_finite
from sedsl.search.errors import SearchError
from sedsl.search.optim import make_sgd

from .conftest import batch, tiny_network

DOUBLE = torch.float64


def make_architect(network, *, order=2, hvp="finite", fd_eps=0.01, momentum_steps=1, sgd=make_sgd):
    weight_opt = sgd(network.weight_parameters(), 0.05, momentum=0.9, weight_decay=5e-4)
    arch_opt = torch.optim.Adam(network.arch_parameters(), lr=3e-4, betas=(0.5, 0.999))
    # A few real weight steps so the momentum buffers are non-trivial, as mid-search.
    weight = next(network.parameters())
    for step in range(momentum_steps):
        x, y = batch(100 + step, dtype=weight.dtype, device=weight.device)
        weight_opt.zero_grad()
        F.cross_entropy(network(x), y).backward()
        weight_opt.step()
    architect = Architect(
        network,
        network.weight_names(),
        network.arch_names(),
        weight_opt,
        arch_opt,
        order=order,
        hvp=hvp,
        fd_eps=fd_eps,
    )
    return architect


def flat(tensors) -> torch.Tensor:
    return torch.cat([t.reshape(-1) for t in tensors])


def cosine(a, b) -> float:
    return float(F.cosine_similarity(flat(a), flat(b), dim=0))


def reference_hypergradient(architect: Architect, train, val) -> list[torch.Tensor]:
    """grad_alpha L_val(w'(alpha), alpha) by autograd through the whole unrolled SGD step."""
    weights = {n: w.detach().clone().requires_grad_() for n, w in architect.weights().items()}
    arch = {n: a.detach().clone().requires_grad_() for n, a in architect.arch().items()}
    group = architect.weight_optimizer.param_groups[0]
    _, train_loss = architect.loss(weights, arch, train)
    grads = torch.autograd.grad(train_loss, list(weights.values()), create_graph=True)
    unrolled = {}
    for (name, w), g in zip(weights.items(), grads, strict=True):
        buf = architect.weight_optimizer.state[architect._parameters[name]]["momentum_buffer"]
        step = group["momentum"] * buf + g + group["weight_decay"] * w
        unrolled[name] = w - group["lr"] * step
    _, val_loss = architect.loss(unrolled, arch, val)
    return list(torch.autograd.grad(val_loss, list(arch.values())))


@pytest.mark.parametrize("momentum_steps", [0, 1], ids=["first-step", "mid-search"])
@pytest.mark.parametrize("sgd", [make_sgd, torch.optim.SGD], ids=["search-sgd", "plain-sgd"])
def test_unrolled_copy_moves_every_weight_exactly_as_the_optimizer_would(
    fake_space, device, sgd, momentum_steps
):
    network = tiny_network(fake_space, dtype=DOUBLE, device=device)
    architect = make_architect(network, sgd=sgd, momentum_steps=momentum_steps)
    train = batch(1, dtype=DOUBLE, device=device)
    weights = architect.weights()
    assert set(weights) == {n for n, _ in network.net.named_parameters(prefix="net")}
    _, loss = architect.loss(weights, architect.arch(), train)
    grads = torch.autograd.grad(loss, list(weights.values()))
    unrolled = architect.unrolled_weights(weights, grads)

    unmoved = [n for n, w in weights.items() if torch.equal(unrolled[n], w)]
    assert unmoved == []
    # Every stage is present, including the last one the public codes reload from an alias.
    assert any(n.startswith("net.layer3.2.") for n in unrolled)

    architect.weight_optimizer.zero_grad()
    for (name, _), grad in zip(weights.items(), grads, strict=True):
        architect._parameters[name].grad = grad.clone()
    architect.weight_optimizer.step()
    for name, w in architect.weights().items():
        torch.testing.assert_close(unrolled[name], w.detach(), rtol=1e-12, atol=1e-12)


def test_architect_leaves_model_buffers_and_weights_untouched(fake_space, device):
    network = tiny_network(fake_space, device=device)
    architect = make_architect(network, order=2)
    before = {k: v.clone() for k, v in network.net.state_dict().items()}
    architect.step(batch(1, device=device), batch(2, device=device))
    after = network.net.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_finite_difference_hvp_matches_exact_in_float64(fake_space, device):
    network = tiny_network(fake_space, dtype=DOUBLE, device=device)
    architect = make_architect(network)
    train = batch(1, dtype=DOUBLE, device=device)
    weights, arch = architect.weights(), architect.arch()
    generator = torch.Generator().manual_seed(3)
    v = [
        torch.randn(w.shape, generator=generator, dtype=DOUBLE).to(device) for w in weights.values()
    ]
    exact = hvp_exact(architect, weights, arch, train, v)
    # Small step in float64: the truncation error of the central difference is O(eps^2) between
    # ReLU kinks; tolerance 1e-6 relative to the largest component.
    finite = hvp_finite(architect, weights, arch, train, v, fd_eps=1e-6)
    scale = float(flat(exact).abs().max())
    assert float((flat(finite) - flat(exact)).abs().max()) <= 1e-6 * scale
    assert cosine(finite, exact) > 1 - 1e-9


@pytest.mark.parametrize("hvp", ["exact", "finite"])
def test_second_order_hypergradient_matches_autograd_through_the_unrolled_step(
    fake_space, device, hvp
):
    network = tiny_network(fake_space, dtype=DOUBLE, device=device)
    architect = make_architect(network, hvp=hvp, fd_eps=1e-6)
    train, val = batch(1, dtype=DOUBLE, device=device), batch(2, dtype=DOUBLE, device=device)
    reference = reference_hypergradient(architect, train, val)
    ours, _ = architect.second_order_gradient(train, val)
    tolerance = 1e-10 if hvp == "exact" else 1e-6
    scale = float(flat(reference).abs().max())
    assert float((flat(ours) - flat(reference)).abs().max()) <= tolerance * scale


def test_first_order_gradient_is_the_val_gradient_at_current_weights(fake_space, device):
    network = tiny_network(fake_space, dtype=DOUBLE, device=device)
    architect = make_architect(network, order=1)
    val = batch(2, dtype=DOUBLE, device=device)
    network.zero_grad()
    loss = F.cross_entropy(
        functional_call(network, dict(network.named_parameters()), val[0]), val[1]
    )
    expected = torch.autograd.grad(loss, network.arch_parameters())
    ours, _ = architect.first_order_gradient(val)
    for a, b in zip(ours, expected, strict=True):
        torch.testing.assert_close(a, b)


def test_step_updates_alphas_only_through_the_arch_optimizer(fake_space, device):
    network = tiny_network(fake_space, device=device)
    architect = make_architect(network, order=2, hvp="exact")
    alphas = [a.detach().clone() for a in network.arch_parameters()]
    weights = [w.detach().clone() for w in network.weight_parameters()]
    architect.step(batch(1, device=device), batch(2, device=device))
    assert all(
        not torch.equal(a, b) for a, b in zip(alphas, network.arch_parameters(), strict=True)
    )
    assert all(torch.equal(w, b) for w, b in zip(weights, network.weight_parameters(), strict=True))


class _OnceDifferentiableReLU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.clamp_min(0)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * (x > 0)


class _OnceDifferentiableNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.alpha = nn.Parameter(torch.zeros(2))
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        # The weight sits before the op, so its gradient flows through the op's backward.
        mix = torch.softmax(self.alpha, 0)
        h = self.fc(x.flatten(1)[:, :4])
        return _OnceDifferentiableReLU.apply(mix[0] * h + mix[1] * h.square())


def test_exact_hvp_refuses_an_op_without_double_backward():
    net = _OnceDifferentiableNet()
    weight_opt = torch.optim.SGD(net.fc.parameters(), lr=0.1, momentum=0.9)
    arch_opt = torch.optim.Adam([net.alpha], lr=3e-4)
    architect = Architect(
        net, ["fc.weight", "fc.bias"], ["alpha"], weight_opt, arch_opt, order=2, hvp="exact"
    )
    with pytest.raises(SearchError, match="hvp='finite'"):
        architect.step(batch(1), batch(2))
    # The finite-difference product needs first derivatives only.
    finite = Architect(
        net, ["fc.weight", "fc.bias"], ["alpha"], weight_opt, arch_opt, order=2, hvp="finite"
    )
    finite.step(batch(1), batch(2))


def test_bad_order_and_hvp_are_user_errors(fake_space):
    network = tiny_network(fake_space)
    with pytest.raises(SearchError, match="order"):
        make_architect(network, order=3)
    with pytest.raises(SearchError, match="hvp"):
        make_architect(network, hvp="magic")
