"""`sedsl evaluate` and `sedsl finetune` on a tiny generated ImageFolder (tests/swap/conftest.py):
the scores count the images and agree with the models' own predictions; fine-tuning changes
the swapped network, writes a swap directory that evaluate reads, and bad options are one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from sedsl.cli import main
from sedsl.swap.api import load_swapped, save_swapped, swap
from sedsl.swap.evaluate import eval_transform
from sedsl.swap.evaluate import image_folder as read_folder
from sedsl.swap.zoo import se_network

from .conftest import TSE

SIZE = 32


@pytest.fixture
def swap_dir(tmp_path: Path) -> Path:
    torch.manual_seed(5)
    weights = tmp_path / "regnet_y_400mf.pth"
    torch.save(se_network("regnet_y_400mf").build(num_classes=3).state_dict(), weights)
    result = swap("regnet_y_400mf", TSE, "rows_7", weights=weights, input_size=SIZE, num_classes=3)
    save_swapped(result, tmp_path / "swap")
    return tmp_path / "swap"


def _predicted_correct(model, data: Path) -> int:
    dataset = read_folder(data, eval_transform("regnet_y_400mf", SIZE))
    images = torch.stack([image for image, _ in dataset])
    labels = torch.tensor([label for _, label in dataset])
    with torch.no_grad():
        return int((model.eval()(images).argmax(1) == labels).sum())


def test_evaluate_scores_both_networks_on_the_image_folder(swap_dir, image_folder):
    out = CliRunner().invoke(
        main, ["evaluate", str(swap_dir), "--data", str(image_folder), "--format", "json"]
    )
    assert out.exit_code == 0, out.output
    scores = json.loads(out.output)
    assert scores["original"]["images"] == scores["swapped"]["images"] == 6  # val: 3 x 2
    swapped, _ = load_swapped(swap_dir)
    assert scores["swapped"]["correct"] == _predicted_correct(swapped, image_folder)
    text = CliRunner().invoke(main, ["evaluate", str(swap_dir), "--data", str(image_folder)])
    assert text.exit_code == 0 and "top-1 on 6 images: original" in text.output


def test_finetune_trains_the_swapped_network_and_writes_a_swap_directory(
    swap_dir, image_folder, tmp_path
):
    out = tmp_path / "ft"
    args = ["finetune", str(swap_dir), "--data", str(image_folder), "--out", str(out)]
    result = CliRunner().invoke(main, [*args, "--epochs", "2", "--fraction", "0.5"])
    assert result.exit_code == 0, result.output
    assert "epoch 2/2" in result.output and "on 3 images" in result.output  # half of 6
    before, _ = load_swapped(swap_dir)
    after, record = load_swapped(out)
    assert record["finetune"]["config"]["fraction"] == 0.5
    assert record["finetune"]["result"]["epochs"] == 2
    changed = [
        name
        for (name, a), (_, b) in zip(
            before.state_dict().items(), after.state_dict().items(), strict=True
        )
        if a.is_floating_point() and not torch.equal(a, b)
    ]
    assert changed  # the weights moved
    scores = CliRunner().invoke(main, ["evaluate", str(out), "--data", str(image_folder)])
    assert scores.exit_code == 0, scores.output


@pytest.mark.parametrize(
    ("extra", "message"),
    [(["--fraction", "0"], "must be in (0, 1]"), (["--epochs", "0"], "positive")],
)
def test_finetune_bad_options_are_one_line(swap_dir, image_folder, tmp_path, extra, message):
    args = ["finetune", str(swap_dir), "--data", str(image_folder), "--out", str(tmp_path / "x")]
    result = CliRunner().invoke(main, [*args, *extra])
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output
