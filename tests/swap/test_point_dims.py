"""Insertion-point dims beyond (C, H, W): `dim Cin = C` in a space, proved by the checker
at the check points, given by backbones (measured), defaulted where a backbone has none."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from sedsl.check.checker import check_file
from sedsl.check.diagnostics import Diagnostics
from sedsl.codegen.generate import render_space, write_space
from sedsl.cost.report import CostError, cost
from sedsl.language.format import format_module
from sedsl.language.grammar import parse_source
from sedsl.search.errors import SearchError
from sedsl.search.network import build_search_network
from sedsl.search.space import load_space
from sedsl.swap.slots import measure_slots

from .conftest import ROOT, TSE

SPACE = """space gate "a gate squeezed to a quarter of the block input"

## the block input width
dim Cin = C
dim E

param reduction: int = 4

opset squeeze(x: [B, C, H, W]) -> [B, C, 1, 1] {
  avg_pool,
}

block gate(x: [B, C, H, W]) -> [B, C, H, W] {
  s = squeeze(x)
  return x * sigmoid(conv2d(relu(conv2d(s, out=Cin // reduction, bias=true)), out=C))
}

require Cin // reduction >= 1

check wide (C, H, W, Cin, E) in [(16, 8, 8, 8, 1), (32, 4, 4, 16, 1)]
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "gate.space"
    path.write_text(text, encoding="utf-8")
    return path


def _codes(report) -> list[str]:
    return [d.code for d in report.diagnostics]


def test_checker_proves_the_dims_at_every_point(tmp_path):
    report = check_file(_write(tmp_path, SPACE))
    assert report.ok, [str(d) for d in report.diagnostics]
    assert [d.name for d in report.space.point_dims] == ["Cin", "E"]
    bad = check_file(_write(tmp_path, SPACE.replace("(32, 4, 4, 16, 1)", "(32, 4, 4, 2, 1)")))
    failing = [d for d in bad.diagnostics if d.code == "E040"]
    assert failing and "Cin=2" in failing[0].message


def test_a_point_without_a_dim_takes_its_default_or_is_an_error(tmp_path):
    # Cin = C by default: C // 4 >= 1 holds at C = 16
    defaulted = SPACE.replace("dim E\n", "").replace(
        "check wide (C, H, W, Cin, E) in [(16, 8, 8, 8, 1), (32, 4, 4, 16, 1)]",
        "check narrow (C, H, W) in [(16, 8, 8)]",
    )
    assert check_file(_write(tmp_path, defaulted)).ok
    failing = check_file(_write(tmp_path, defaulted.replace("(16, 8, 8)", "(2, 8, 8)")))
    assert "E040" in _codes(failing)  # with C=2: Cin = 2, Cin // 4 = 0
    missing = check_file(_write(tmp_path, SPACE.replace(", E) in", ") in").replace(", 1)", ")")))
    assert any("does not give `E`" in d.message for d in missing.diagnostics)


def test_a_dim_may_not_rename_the_block_input(tmp_path):
    report = check_file(_write(tmp_path, SPACE.replace("dim E\n", "dim H\n")))
    assert any("already a dimension of the block's input" in d.message for d in report.diagnostics)


def test_format_keeps_dim_declarations():
    diagnostics = Diagnostics()
    module = parse_source(SPACE, "gate.space", diagnostics)
    assert not list(diagnostics)
    assert format_module(module) == SPACE


@pytest.fixture
def gate_dir(tmp_path) -> Path:
    report = check_file(_write(tmp_path, SPACE))
    return write_space(render_space(report.space), tmp_path / "generated", "gate")


def test_generated_block_takes_the_dims_by_keyword(gate_dir):
    manifest = json.loads((gate_dir / "space.json").read_text())
    assert manifest["dims"][0] == {
        "name": "Cin",
        "arg": "cin",
        "default": "C",
        "doc": "the block input width",
    }
    space = load_space(gate_dir)
    genotype = {"s": "avg_pool"}
    block = space.fixed.build_fixed(genotype, 16, 8, 8, cin=8, e=1)
    widths = [p.shape for p in block.parameters()]
    assert torch.Size([2, 16, 1, 1]) in widths  # Cin // 4 = 2 channels, not C // 4 = 4
    defaulted = [p.shape for p in space.fixed.build_fixed(genotype, 16, 8, 8, e=1).parameters()]
    assert torch.Size([4, 16, 1, 1]) in defaulted


def test_a_dim_the_backbone_does_not_provide_fails_naming_both(gate_dir):
    space = load_space(gate_dir)
    with pytest.raises(SearchError, match=r"names the dimension E, which backbone resnet20"):
        build_search_network(space, backbone="resnet20", input_size=(8, 8), width=4)
    with pytest.raises(CostError, match=r"dimension E, which backbone regnet_y_400mf"):
        cost(gate_dir, str(_genotype_file(gate_dir)), "regnet_y_400mf")


def _genotype_file(gate_dir: Path) -> Path:
    path = gate_dir.parent / "genotype.json"
    path.write_text(json.dumps({"genotype": {"s": "avg_pool"}}), encoding="utf-8")
    return path


def test_cifar_search_keeps_working_with_cin_from_c():
    space = load_space(TSE)
    torch.manual_seed(0)
    network = build_search_network(space, backbone="resnet20", input_size=(8, 8), width=4)
    se = [m for n, m in network.named_modules() if n.endswith("candidates.0")]
    assert len(se) == 9
    for block in se:  # Cin = C: the squeeze is C // 4 wide
        c = block.hidden_conv2d.in_channels
        assert block.hidden_conv2d.out_channels == c // 4
    loss = network(torch.randn(2, 3, 8, 8)).sum()
    loss.backward()


@pytest.mark.parametrize(
    ("space", "point_set", "backbone"),
    [
        ("tse", "regnet_y_800mf", "regnet_y_800mf"),
        ("tse_efficientnet", "efficientnet_b0", "efficientnet_b0"),
    ],
)
def test_shipped_check_points_are_the_measured_slots(space, point_set, backbone):
    manifest = json.loads((ROOT / "generated" / space / "space.json").read_text())
    declared = [tuple(p[k] for k in ("C", "H", "W", "Cin")) for p in manifest["points"][point_set]]
    measured = [
        tuple(s.dims[k] for k in ("C", "H", "W", "Cin")) for s in measure_slots(backbone, 224)
    ]
    assert declared == list(dict.fromkeys(measured))


def test_efficientnet_space_checks_clean_at_b0s_insertion_points():
    report = check_file(ROOT / "spaces" / "tse_efficientnet.space")
    assert report.ok and not list(report.diagnostics)
    assert report.points == 13  # B0's 10 distinct slots and ResNet-20's 3 stages
