"""Cost-aware search: the cost model agrees with `sedsl cost`, its expectation is exact, the
architect adds its gradient in both orders, and a positive weight buys a smaller buffer."""

from __future__ import annotations

import csv
import itertools
import json
from pathlib import Path

import pytest
import torch

from sedsl.cost.report import cost as sedsl_cost
from sedsl.search import SearchError, run_search
from sedsl.search.architect import Architect
from sedsl.search.backbones import insertion_points
from sedsl.search.cost import _expected_max, build_cost_model
from sedsl.search.recipe import resolve_config
from sedsl.search.space import load_space

from .conftest import FAKE_SPACE, batch, tiny_network

TSE_SEARCH = Path(__file__).parents[2] / "generated" / "tse_search"
DATASET = "synthetic:size=16,train=128,test=16,classes=4"


@pytest.fixture(scope="module")
def tse_search():
    return load_space(TSE_SEARCH)


@pytest.mark.parametrize("kind", ["buffer", "params", "macs"])
def test_chosen_cost_is_what_sedsl_cost_reports(tse_search, kind):
    model = build_cost_model(tse_search, kind, insertion_points("resnet20"))
    field = {"buffer": "buffer_elements"}.get(kind, kind)
    for name, choice in tse_search.fixed.GENOTYPES.items():
        report = sedsl_cost(TSE_SEARCH, name, "resnet20")
        assert model.chosen(choice) == getattr(report.attention, field), (name, kind)
        one_hot = {
            e: torch.eye(len(c), dtype=torch.float64)[c.index(choice[e])]
            for e, c in model.candidates.items()
        }
        assert float(model.expected(one_hot)) == model.chosen(choice)
    if kind == "buffer":  # the most expensive tile is the whole map, SE's global pooling
        assert model.maximum == model.chosen({"context": "whole"})


def test_expected_buffer_is_the_expectation_of_the_maximum_over_edges():
    generator = torch.Generator().manual_seed(0)
    costs = [torch.randint(0, 6, (k,), generator=generator).double() for k in (3, 2, 4)]
    probs = [torch.softmax(torch.randn(len(c), generator=generator), 0).double() for c in costs]
    for floor in (0.0, 3.0):
        brute = sum(
            max(floor, *(float(c[i]) for c, i in zip(costs, pick, strict=True)))
            * float(torch.prod(torch.stack([p[i] for p, i in zip(probs, pick, strict=True)])))
            for pick in itertools.product(*(range(len(c)) for c in costs))
        )
        assert float(_expected_max(costs, probs, floor)) == pytest.approx(brute, rel=1e-12)


@pytest.mark.parametrize("order", [1, 2])
def test_the_penalty_gradient_adds_to_the_architecture_gradient(fake_space, order):
    def gradients(penalty):
        network = tiny_network(fake_space, dtype=torch.float64)
        weight_opt = torch.optim.SGD(network.weight_parameters(), lr=0.1, momentum=0.9)
        arch_opt = torch.optim.SGD(network.arch_parameters(), lr=1.0)
        architect = Architect(
            network,
            network.weight_names(),
            network.arch_names(),
            weight_opt,
            arch_opt,
            order=order,
            arch_penalty=(lambda: penalty(network)) if penalty else None,
        )
        before = [a.detach().clone() for a in network.arch_parameters()]
        architect.step(batch(1, dtype=torch.float64), batch(2, dtype=torch.float64))
        return [b - a.detach() for a, b in zip(network.arch_parameters(), before, strict=True)]

    def penalty(network):  # d/d alpha of 0.5 * sum(alpha^2) is alpha
        return 0.5 * sum((a**2).sum() for a in network.arch_parameters())

    alphas = tiny_network(fake_space, dtype=torch.float64).arch_parameters()
    for plain, costed, alpha in zip(gradients(None), gradients(penalty), alphas, strict=True):
        torch.testing.assert_close(costed, plain + alpha.detach())


def search(out, weight, **options):
    settings = {
        "epochs": 1,
        "batch_size": 16,
        "steps_per_epoch": 2,
        "width": 4,
        "eval_batches": 1,
        "order": 1,
        "arch_lr": 0.05,
        "cost": "buffer",
        "cost_weight": weight,
        **options,
    }
    return run_search(TSE_SEARCH, dataset=DATASET, out=out, overrides=settings, quiet=True)


def test_a_positive_cost_weight_chooses_a_smaller_buffer(tmp_path, tse_search):
    runs = {w: search(tmp_path / f"w{w}", w) for w in (0.0, 1.0)}
    rows = {w: list(csv.DictReader((r / "metrics.csv").open())) for w, r in runs.items()}
    records = {w: json.loads((r / "genotype.json").read_text()) for w, r in runs.items()}
    assert {"cost_expected", "cost_chosen"} <= set(rows[1.0][0])
    chosen = {w: float(rows[w][-1]["cost_chosen"]) for w in runs}
    expected = {w: float(rows[w][-1]["cost_expected"]) for w in runs}
    assert chosen[1.0] < chosen[0.0] and expected[1.0] < expected[0.0]
    # the smallest buffer of the space at these points: one-row or one-column strips
    model = build_cost_model(tse_search, "buffer", insertion_points("resnet20", (16, 16), width=4))
    assert chosen[1.0] == min(model.chosen({"context": c}) for c in model.candidates["context"])
    assert records[1.0]["genotype"]["context"] in ("rows_1", "cols_1")
    cost = records[1.0]["cost"]
    assert cost["kind"] == "buffer" and cost["weight"] == 1.0 and cost["units"] == "elements"
    assert cost["cost_chosen"] == chosen[1.0] and cost["normaliser"] == model.maximum
    config = json.loads((runs[1.0] / "config.json").read_text())
    assert config["cost"] == "buffer" and config["cost_weight"] == 1.0


def test_cost_options_are_checked(tmp_path):
    with pytest.raises(SearchError, match="cost must be buffer, macs or params"):
        resolve_config("x", overrides={"cost": "latency"})
    with pytest.raises(SearchError, match="needs a cost kind"):
        resolve_config("x", overrides={"cost_weight": 0.1})
    with pytest.raises(SearchError, match="must not be negative"):
        resolve_config("x", overrides={"cost": "params", "cost_weight": -1})
    assert resolve_config("x", overrides={"cost": "none"}).cost is None
    fake = load_space(FAKE_SPACE)  # hand-written: no buffer expressions, no factories
    with pytest.raises(SearchError, match="no buffer expressions"):
        build_cost_model(fake, "buffer", [(4, 8, 8)])
    with pytest.raises(SearchError, match="no CANDIDATE_FACTORIES"):
        build_cost_model(fake, "macs", [(4, 8, 8)])
    with pytest.raises(SearchError, match="cost must be one of"):
        build_cost_model(fake, "latency", [(4, 8, 8)])
