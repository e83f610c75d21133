"""`sedsl cost`: params by hand, Table 1's buffer column, the JSON and the CLI's errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from sedsl.cli import main
from sedsl.cost.buffer import block_buffer
from sedsl.cost.network import insertion_points
from sedsl.cost.report import cost
from sedsl.search.space import load_space

ROOT = Path(__file__).resolve().parents[2]
TSE = ROOT / "generated" / "tse"
CLASSIC = ROOT / "generated" / "classic"

# TSE paper, Table 1 (RegNetY-800MF at 224), buffer column in 2^20 elements
TABLE_1 = {
    "se": 1.07,
    "rows_9": 0.52,
    "rows_7": 0.42,
    "rows_5": 0.30,
    "rows_3": 0.18,
    "rows_1": 0.06,
    "cols_9": 0.52,
    "cols_7": 0.42,
    "cols_5": 0.30,
    "cols_3": 0.18,
    "cols_1": 0.06,
    # the patch rows that follow the same convention (REFERENCE: 9x9 and 13x13 do not)
    "patch_11": 0.43,
    "patch_7": 0.22,
    "patch_5": 0.11,
    "patch_3": 0.04,
}


@pytest.fixture(scope="module")
def regnet_points():
    return insertion_points("regnety800mf", 224)


def test_regnet_has_table_1s_fourteen_se_blocks(regnet_points):
    assert len(regnet_points) == 14
    assert sorted(set(regnet_points)) == [(64, 56, 56), (144, 28, 28), (320, 14, 14), (784, 7, 7)]


@pytest.mark.parametrize("genotype", sorted(TABLE_1))
def test_buffer_reproduces_table_1(genotype, regnet_points):
    space = load_space(TSE)
    choices = space.fixed.GENOTYPES[genotype]
    total = sum(block_buffer(space.manifest, choices, p) for p in regnet_points)
    assert round(total / 2**20, 2) == TABLE_1[genotype]


def test_se_on_regnet_end_to_end():
    report = cost(TSE, "se", "regnety800mf")
    assert report.attention.blocks == 14
    assert report.attention.buffer_2_20 == 1.07
    assert report.attention.buffer_elements == sum(p.buffer_elements for p in report.points)
    assert report.network.params == report.plain.params + report.attention.params
    # the plain network is torchvision's RegNetY-800MF without its SE modules
    assert report.plain.params == 5_586_344


def _se_params(c: int, reduction: int = 16) -> int:
    hidden = c // reduction
    return 2 * c * hidden + hidden + c  # two 1x1 convs, biases on both


def test_classic_se_on_resnet20_by_hand():
    report = cost(CLASSIC, "se", "resnet20")
    assert report.attention.blocks == 9
    assert report.attention.params == sum(3 * _se_params(c) for c in (16, 32, 64))
    assert report.attention.macs == sum(3 * 2 * c * (c // 16) for c in (16, 32, 64))
    assert report.attention.buffer_elements == 3 * (16 * 32 * 32 + 32 * 16 * 16 + 64 * 8 * 8)
    assert report.plain.params == 269_722  # He et al.'s 0.27M ResNet-20


def test_json_has_the_issue_keys():
    result = CliRunner().invoke(
        main,
        ["cost", str(CLASSIC), "--genotype", "eca", "--backbone", "resnet20", "--format", "json"],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    for key in ("params", "macs", "buffer_elements"):
        assert isinstance(data["attention"][key], int)
    for key in ("params", "macs"):
        assert isinstance(data["network"][key], int)
    assert data["network"]["macs"] > data["attention"]["macs"] > 0


def test_text_table():
    result = CliRunner().invoke(
        main, ["cost", str(CLASSIC), "--genotype", "plain", "--backbone", "resnet20"]
    )
    assert result.exit_code == 0, result.output
    assert "attention" in result.output and "network" in result.output


@pytest.mark.parametrize(
    "args, message",
    [
        ([str(CLASSIC), "--genotype", "nope", "--backbone", "resnet20"], "declares no genotype"),
        ([str(ROOT / "nowhere"), "--genotype", "se", "--backbone", "resnet20"], "not a directory"),
        (
            [str(CLASSIC), "--genotype", "se", "--backbone", "resnet20", "--input-size", "0"],
            "positive",
        ),
        ([str(CLASSIC), "--genotype", "missing.json", "--backbone", "resnet20"], "cannot read"),
    ],
)
def test_errors_are_one_line_and_exit_2(args, message):
    result = CliRunner().invoke(main, ["cost", *args])
    assert result.exit_code == 2
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0]


def test_an_unknown_backbone_is_a_usage_error_that_lists_the_choices():
    args = ["cost", str(CLASSIC), "--genotype", "se", "--backbone", "vgg"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert "'vgg' is not one of" in result.output and "regnet_y_800mf" in result.output
