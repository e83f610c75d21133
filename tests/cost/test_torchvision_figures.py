"""Issue 14 point 4: `sedsl cost --genotype se --backbone regnet_y_800mf` reports torchvision's
own figures. The expected values are recomputed here from torchvision's model, not taken
from sedsl; the literals pin the issue's numbers so that a torchvision change shows up."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from torch.utils.flop_counter import FlopCounterMode
from torchvision.models import regnet_y_800mf
from torchvision.ops import SqueezeExcitation

from sedsl.cli import main

TSE = Path(__file__).resolve().parents[2] / "generated" / "tse"


@pytest.fixture(scope="module")
def torchvision_model():
    return regnet_y_800mf().eval()


@pytest.fixture(scope="module")
def report():
    args = ["cost", str(TSE), "--genotype", "se", "--backbone", "regnet_y_800mf"]
    result = CliRunner().invoke(main, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def _se_macs(model: torch.nn.Module) -> int:
    # each SE's two 1x1 convs act on a pooled 1x1 map: one MAC per weight
    return sum(
        m.fc1.weight.numel() + m.fc2.weight.numel()
        for m in model.modules()
        if isinstance(m, SqueezeExcitation)
    )


def test_parameters_are_torchvisions(report, torchvision_model):
    expected = sum(p.numel() for p in torchvision_model.parameters())
    assert expected == 6_432_512
    assert report["network"]["params"] == expected


def test_se_mac_delta_is_torchvisions(report, torchvision_model):
    expected = _se_macs(torchvision_model)
    assert expected == 840_576
    assert report["attention"]["macs"] == expected
    assert report["network"]["macs"] - report["plain"]["macs"] == expected


def test_network_macs_are_torchvisions(report, torchvision_model):
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        torchvision_model(torch.zeros(1, 3, 224, 224))
    assert report["network"]["macs"] == counter.get_total_flops() // 2


def test_the_text_report_shows_both_figures():
    args = ["cost", str(TSE), "--genotype", "se", "--backbone", "regnet_y_800mf"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "6,432,512" in result.output
    assert "840,576" in result.output
