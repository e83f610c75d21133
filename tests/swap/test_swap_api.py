"""`sedsl swap` and its Python API: measured slots, weights in and out, refusals, the swap
directory, and the CLI's one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from sedsl.cli import main
from sedsl.swap.api import SwapError, load_swapped, read_swap_record, save_swapped, swap
from sedsl.swap.slots import measure_slots, se_modules
from sedsl.swap.zoo import canonical_name, se_network

from .conftest import ROOT, TSE

CLASSIC = ROOT / "generated" / "classic"


@pytest.mark.parametrize(
    ("name", "slots", "squeeze"),
    [
        # torchvision: int(round(se_ratio * width_in)) in BottleneckTransform
        ("regnet_y_800mf", 14, lambda cin: int(round(0.25 * cin))),
        # torchvision: max(1, cnf.input_channels // 4) in MBConv
        ("efficientnet_b0", 16, lambda cin: max(1, cin // 4)),
    ],
)
def test_measured_slots_agree_with_torchvisions_own_se_shapes(name, slots, squeeze):
    measured = measure_slots(name, 224)
    modules = dict(se_modules(se_network(name).build()))
    assert len(measured) == slots == len(modules)
    for slot in measured:
        fc1 = modules[slot.name].fc1
        assert fc1.in_channels == slot.dims["C"]
        assert fc1.out_channels == squeeze(slot.dims["Cin"])
    assert measured[-1].shape == (measured[-1].dims["C"], 7, 7)


def test_torchvision_and_compact_names_are_accepted():
    assert canonical_name("regnet_y_800mf") == "regnet_y_800mf"
    assert canonical_name("regnety800mf") == "regnet_y_800mf"
    assert canonical_name("RegNetY-1.6GF") == "regnet_y_1_6gf"
    assert canonical_name("efficientnet-b3") == "efficientnet_b3"
    assert canonical_name("resnet50") is None


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory) -> Path:
    """A state dict saved from a randomly initialised torchvision network, as its own
    .pth files are (they cannot be downloaded here)."""
    torch.manual_seed(3)
    path = tmp_path_factory.mktemp("weights") / "regnet_y_400mf.pth"
    torch.save(se_network("regnet_y_400mf").build(num_classes=3).state_dict(), path)
    return path


def test_weights_load_unchanged_and_se_weights_are_carried(weights_file):
    state = torch.load(weights_file, weights_only=True)
    result = swap(
        "regnet_y_400mf", TSE, "rows_7", weights=weights_file, input_size=64, num_classes=3
    )
    assert [s.status for s in result.slots] == ["carried"] * len(result.slots)
    swapped = result.model.state_dict()
    first = result.slots[0]
    for pair in first.carried:
        source = state[f"{first.name}.{pair['source']}"]
        assert torch.equal(swapped[f"{first.name}.{pair['target']}"], source)
    untouched = [k for k in state if ".se." not in k]
    assert all(torch.equal(swapped[k], state[k]) for k in untouched)


def test_a_block_that_cannot_take_the_weights_is_refused_with_both_shapes():
    # classic's SE squeezes to C // 16; RegNetY's first SE is 64 -> 8 (a quarter of Cin=32)
    with pytest.raises(SwapError) as info:
        swap("regnet_y_800mf", CLASSIC, "se", input_size=64)
    message = str(info.value)
    assert "trunk_output.block1.block1-0.f.se" in message
    assert "(8, 64, 1, 1)" in message and "(4, 64, 1, 1)" in message
    fresh = swap("regnet_y_800mf", CLASSIC, "se", input_size=64, allow_fresh=True)
    assert {s.status for s in fresh.slots} == {"fresh"}


def test_stages_limit_the_swap(weights_file):
    result = swap(
        "regnet_y_400mf",
        TSE,
        "rows_7",
        weights=weights_file,
        input_size=64,
        num_classes=3,
        stages=["block3"],
    )
    kept = {s.stage for s in result.slots if s.status == "kept"}
    assert kept == {"block1", "block2", "block4"}
    remaining = {name.split(".")[1] for name, _ in se_modules(result.model)}
    assert remaining == kept
    with pytest.raises(SwapError, match="no stage block9"):
        swap("regnet_y_400mf", TSE, "rows_7", input_size=64, stages=["block9"])


def test_swap_directory_round_trip(tmp_path, weights_file):
    result = swap(
        "regnet_y_400mf", TSE, "rows_7", weights=weights_file, input_size=64, num_classes=3
    )
    save_swapped(result, tmp_path / "swap")
    model, record = load_swapped(tmp_path / "swap")
    assert record == read_swap_record(tmp_path / "swap" / "swap.json")
    assert record["genotype"] == {"y": "rows"} and record["backbone"] == "regnet_y_400mf"
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(model.eval()(x), result.model.eval()(x))


def test_cli_reports_every_slot_and_writes_json(tmp_path, weights_file):
    runner = CliRunner()
    args = ["swap", "regnet_y_400mf", str(TSE), "--genotype", "rows_7", "--input-size", "64"]
    args += ["--num-classes", "3", "--weights", str(weights_file), "--out", str(tmp_path / "s")]
    text = runner.invoke(main, args)
    assert text.exit_code == 0, text.output
    assert "16 of 16 SE slots swapped" in text.output
    assert text.output.count("carried fc1.weight") == 16
    record = json.loads((tmp_path / "s" / "swap.json").read_text())
    assert len(record["slots"]) == 16 and record["weights"] == str(weights_file)
    as_json = runner.invoke(main, [*args[:-2], "--format", "json"])
    assert json.loads(as_json.output)["slots"][0]["dims"]["Cin"] == 32


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["vgg16", str(TSE), "--genotype", "se"], "'vgg16' is not one of 'regnet_y_400mf'"),
        (["regnet_y_400mf", str(TSE), "--genotype", "nope"], "declares no genotype 'nope'"),
        (["regnet_y_400mf", str(CLASSIC), "--genotype", "se"], "cannot carry the SE weights"),
        (
            ["regnet_y_400mf", str(TSE), "--genotype", "se", "--weights", "missing.pth"],
            "cannot read",
        ),
    ],
)
def test_cli_errors_are_one_line_and_exit_2(args, message):
    result = CliRunner().invoke(main, ["swap", *args, "--input-size", "64"])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output


def test_weights_of_another_network_are_refused(tmp_path):
    path = tmp_path / "b0.pth"
    torch.save(se_network("efficientnet_b0").build(num_classes=3).state_dict(), path)
    result = CliRunner().invoke(
        main, ["swap", "regnet_y_400mf", str(TSE), "--genotype", "se", "--weights", str(path)]
    )
    assert result.exit_code == 2
    assert "not a state dict of torchvision's regnet_y_400mf" in result.output
