"""A 10-step DARTS search (first order; second order with finite-difference and exact H v) in
float64 ends with the same alphas, to 1e-8 relative, whether the network's block comes from the
compiled supernet (`sedsl generate`) or the reference one (`--supernet reference`), from the same
seed and the same data. The network is one searched block between a stem and a classifier, so the
search runs in seconds; tests/codegen/test_compiled.py checks every point of every space."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sedsl.check.checker import check_file
from sedsl.codegen.generate import render_space, write_space
from sedsl.search.architect import Architect
from sedsl.search.network import SearchNetwork
from sedsl.search.optim import make_sgd
from sedsl.search.space import LoadedSpace, load_space

ROOT = Path(__file__).resolve().parents[2]
SPACES = ["sase", "hoga"]
SEARCHES = [(1, "finite"), (2, "finite"), (2, "exact")]
RTOL = 1e-8
DOUBLE = torch.float64
C, H, W = 16, 4, 4  # the smallest block the spaces allow (C // reduction >= 1)


@pytest.fixture(scope="module")
def reference_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("reference")


def spaces(name: str, out: Path) -> tuple[LoadedSpace, LoadedSpace]:
    """(compiled, reference) of generated/<name>."""
    compiled = load_space(ROOT / "generated" / name)
    if not (out / name).is_dir():
        source = json.loads((compiled.path / "space.json").read_text(encoding="utf-8"))["source"]
        write_space(render_space(check_file(ROOT / source).space, "reference"), out, name)
    return compiled, load_space(out / name)


def network(space: LoadedSpace, device: torch.device | str = "cpu") -> SearchNetwork:
    torch.manual_seed(0)
    alphas = space.supernet.Alphas(0.5)
    extra = space.dim_kwargs({"C": C, "H": H, "W": W}, "the test network")
    net = nn.Sequential(
        nn.Conv2d(3, C, 3, padding=1, bias=False),
        nn.BatchNorm2d(C),
        space.supernet.SupernetBlock(C, H, W, alphas, **extra),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(C, 3),
    )
    return SearchNetwork(net, alphas).to(device, DOUBLE)


def batch(seed: int, device: torch.device) -> tuple[Tensor, Tensor]:
    generator = torch.Generator().manual_seed(seed)  # drawn on the CPU: the same on every device
    x = torch.randn(4, 3, H, W, generator=generator, dtype=DOUBLE)
    return x.to(device), torch.randint(0, 3, (4,), generator=generator).to(device)


def alphas(net: SearchNetwork) -> Tensor:
    return torch.cat([a.detach().reshape(-1) for a in net.arch_parameters()])


def search(net: SearchNetwork, order: int, hvp: str, perturb: float = 0.0) -> Tensor:
    """10 steps of DARTS' loop (arch step, then weight step). The alphas take plain SGD rather
    than the recipes' Adam: Adam's normalised step would hide a gradient error up to scale."""
    weight_opt = make_sgd(net.weight_parameters(), 0.05, momentum=0.9, weight_decay=5e-4)
    arch_opt = torch.optim.SGD(net.arch_parameters(), lr=0.5)
    architect = Architect(
        net, net.weight_names(), net.arch_names(), weight_opt, arch_opt, order=order, hvp=hvp
    )
    if perturb:  # the negative control: a relative error `perturb` in one alpha's gradient
        first = net.arch_parameters()[0]
        step = arch_opt.step

        def perturbed_step():
            first.grad[0] *= 1 + perturb
            step()

        arch_opt.step = perturbed_step
    device = next(net.parameters()).device
    for i in range(10):
        train, val = batch(2 * i + 1, device), batch(2 * i + 2, device)
        architect.step(train, val)
        weights = net.weight_parameters()
        loss = F.cross_entropy(net(train[0]), train[1])
        for weight, grad in zip(weights, torch.autograd.grad(loss, weights), strict=True):
            weight.grad = grad
        weight_opt.step()
    return alphas(net)


def relative_error(ours: Tensor, reference: Tensor, start: Tensor) -> float:
    """Largest difference as a fraction of the largest distance the alphas moved."""
    return float((ours - reference).abs().max() / (reference - start).abs().max())


@pytest.mark.parametrize(("order", "hvp"), SEARCHES, ids=[f"{o}-{h}" for o, h in SEARCHES])
@pytest.mark.parametrize("name", SPACES)
def test_compiled_and_reference_searches_end_at_the_same_alphas(
    name, order, hvp, device, reference_dir
):
    compiled_space, reference_space = spaces(name, reference_dir)
    reference = network(reference_space, device)
    compiled = network(compiled_space, device)
    compiled.load_state_dict(reference.state_dict())  # same start, whatever the build order
    start = alphas(reference)
    ours, theirs = search(compiled, order, hvp), search(reference, order, hvp)
    assert float((theirs - start).abs().max()) > 1e-3  # the search moved the alphas
    assert relative_error(ours, theirs, start) <= RTOL, (name, order, hvp)


def test_the_comparison_detects_a_gradient_error_of_one_in_a_million(reference_dir):
    _, reference_space = spaces("sase", reference_dir)
    clean, perturbed = network(reference_space), network(reference_space)
    start = alphas(clean)
    error = relative_error(search(perturbed, 2, "finite", 1e-6), search(clean, 2, "finite"), start)
    assert error > RTOL
