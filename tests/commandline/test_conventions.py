"""The CLI behaves as users of click, rich and torchvision tools expect: colour (NO_COLOR,
--color / --no-color, into a real pipe), choices and defaults in --help, help on every
option, torchvision's backbone names, errors in sedsl's words, whole one-line summaries."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from sedsl import cli
from sedsl.cli import main

ROOT = Path(__file__).resolve().parents[2]
FAKE_SPACE = ROOT / "tests" / "search" / "fake_space"
ANSI = "\x1b["
BROKEN = "space broken\nop oops(\n"


def piped(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess:
    """`sedsl ARGS | cat`: stdout and stderr are pipes, never a terminal."""
    base = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    return subprocess.run(
        [sys.executable, "-m", "sedsl.cli", *args],
        cwd=cwd,
        env={**base, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(autouse=True)
def _colour_env(monkeypatch):
    # the colour options write FORCE_COLOR / NO_COLOR for rich: restore them after each test
    for name in ("NO_COLOR", "FORCE_COLOR", "TTY_INTERACTIVE"):
        monkeypatch.delenv(name, raising=False)


# ---- colour ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flags", "env", "coloured"),
    [
        ([], {}, False),  # a pipe: no colour
        (["--color"], {}, True),  # forced into the pipe
        (["--color"], {"NO_COLOR": "1"}, True),  # the flag beats the environment
        ([], {"NO_COLOR": "1", "FORCE_COLOR": "1"}, False),  # NO_COLOR wins
        ([], {"FORCE_COLOR": "1"}, True),
        (["--no-color"], {"FORCE_COLOR": "1"}, False),
    ],
)
def test_check_colour_into_a_real_pipe(tmp_path, flags, env, coloured):
    (tmp_path / "broken.space").write_text(BROKEN)
    result = piped(["check", "broken.space", *flags], tmp_path, **env)
    assert result.returncode == 1, result.stderr
    assert "error[E001]" in result.stdout
    assert (ANSI in result.stdout) is coloured, result.stdout


def test_colour_option_on_the_group_and_on_diagnostics_to_stderr(tmp_path):
    (tmp_path / "broken.space").write_text(BROKEN)
    forced = piped(["--color", "generate", "broken.space", "-o", "out"], tmp_path)
    assert forced.returncode == 1 and ANSI in forced.stderr, forced.stderr
    plain = piped(["generate", "broken.space", "-o", "out"], tmp_path, NO_COLOR="1")
    assert plain.returncode == 1 and "error[E001]" in plain.stderr
    assert ANSI not in plain.stderr
    assert not (tmp_path / "out").exists()


def test_train_progress_is_coloured_by_rich_only_when_asked(tmp_path):
    args = ["train", str(FAKE_SPACE), "--genotype", "right", "--epochs", "1", "--batch-size", "8"]
    args += ["--dataset", "synthetic:size=8,train=16,test=8,classes=2", "--out", "t"]
    forced = piped([*args, "--color"], tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert "train acc" in forced.stdout and ANSI in forced.stdout
    plain = piped([*args, "--overwrite"], tmp_path, NO_COLOR="1")
    assert plain.returncode == 0, plain.stderr
    assert "epoch 1/1" in plain.stdout and ANSI not in plain.stdout


# ---- help: choices, defaults, every option ----------------------------------------------------


def commands() -> list[tuple[str, click.Command]]:
    found = [("sedsl", main)]
    found += [(f"sedsl {name}", command) for name, command in main.commands.items()]
    return found


def options(command: click.Command) -> list[click.Option]:
    return [p for p in command.params if isinstance(p, click.Option) and p.name != "help"]


@pytest.mark.parametrize(("name", "command"), commands(), ids=[n for n, _ in commands()])
def test_every_option_has_help_and_shows_its_default(name, command):
    ctx = click.Context(command, info_name=name, show_default=True)
    for option in options(command):
        assert option.help and option.help.strip(), f"{name} {option.opts[0]} has no help"
        record = option.get_help_record(ctx)
        assert record is not None
        has_value = not (option.is_flag or option.multiple or option.required)
        has_value = has_value and option.default is not None
        if has_value or isinstance(option.show_default, str):
            assert "[default:" in record[1], f"{name} {option.opts[0]}: {record[1]}"


def test_choices_and_defaults_named_in_the_issue_are_shown():
    runner = CliRunner()
    search = runner.invoke(main, ["search", "--help"], terminal_width=200).output
    assert "--dataset [cifar10|cifar100|digits|synthetic[:K=V,...]|imagefolder:PATH]" in search
    assert "[resnet20|resnet32|resnet56|resnet18|resnet50|resnet101]" in search
    assert "[default: (runs/SPACE-DATASET-seedSEED)]" in search
    assert "[default: (the space's recipe, else cifar10)]" in search
    train = runner.invoke(main, ["train", "--help"], terminal_width=200).output
    assert "epochs of training.  [default: 200]" in train
    cost = runner.invoke(main, ["cost", "--help"], terminal_width=200).output
    assert "regnet_y_800mf" in cost and "--format [text|json]" in cost


def test_shown_defaults_are_the_ones_used():
    from sedsl.search.recipe import resolve_config
    from sedsl.search.train import TrainConfig

    darts = resolve_config("a-space-without-a-recipe")
    for flag, _type, _help, default in cli._SEARCH_FLAGS:
        assert getattr(darts, flag[2:].replace("-", "_")) == default, flag
    train = {p.name: p.default for p in main.commands["train"].params}
    for field in ("dataset", "data_dir", "backbone", "epochs", "batch_size", "lr", "seed"):
        assert train[field] == getattr(TrainConfig(), field), field
    assert train["device"] == TrainConfig().device


def test_backbone_choices_are_the_backbones_sedsl_builds():
    from sedsl.cost.network import BACKBONES as COST
    from sedsl.search.backbones import BACKBONES as SEARCH

    assert set(cli.SEARCH_BACKBONES) == set(SEARCH)
    assert set(cli.COST_BACKBONES) == set(COST)


def test_swap_takes_its_backbone_from_a_choice_of_the_zoo(tmp_path):
    from sedsl.swap.zoo import SE_NETWORKS

    assert set(cli.SE_BACKBONES) == set(SE_NETWORKS)
    result = CliRunner().invoke(
        cli.main, ["swap", "regnet_y_9000mf", str(tmp_path), "--genotype", "se"]
    )
    assert result.exit_code == 2
    assert "Invalid value for 'BACKBONE'" in result.output
    assert "regnet_y_800mf" in result.output and "Traceback" not in result.output


def test_torchvision_names_and_their_compact_spelling_are_accepted():
    choice = cli.NameChoice(cli.COST_BACKBONES)
    assert choice.convert("regnet_y_800mf", None, None) == "regnet_y_800mf"
    assert choice.convert("regnety800mf", None, None) == "regnet_y_800mf"
    assert choice.convert("EfficientNet-B0", None, None) == "efficientnet_b0"
    assert choice.convert("resnet18", None, None) == "resnet18"
    with pytest.raises(click.BadParameter, match="is not one of"):
        choice.convert("regnet_y_9000mf", None, None)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["search", "x", "--dataset", "mnist"], "'mnist' is not one of cifar10, cifar100"),
        (["search", "x", "--dataset", "imagefolder"], "imagefolder needs a path"),
        (["train", "x", "--genotype", "g", "--backbone", "vgg16"], "'vgg16' is not one of"),
        (["search", "x", "--device", "gpu"], "'gpu' is not one of auto, cpu, cuda"),
        (["cost", "x", "--genotype", "g", "--backbone", "regnet"], "'regnet' is not one of"),
    ],
)
def test_a_bad_choice_is_a_usage_error(args, message):
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2 and message in result.output, result.output


def test_one_line_summaries_are_whole_sentences():
    for name, command in commands()[1:]:
        short = command.get_short_help_str(limit=1000)
        assert not short.endswith(("e.g.", "i.e.", "etc.", "...")), f"{name}: {short}"
    explain = main.commands["explain"]
    assert explain.get_short_help_str(limit=1000) == explain.help.strip()


# ---- errors in sedsl's words ----------------------------------------------------------------


LIBRARY_WORDS = re.compile(r"Errno|Traceback|download=True|\bRuntimeError\b|FileExistsError")


def test_errors_are_in_sedsl_words(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "afile").write_text("")
    (tmp_path / "bad.json").write_text("{not json")
    space = str(ROOT / "spaces" / "classic.space")
    fake = str(FAKE_SPACE)
    cases = [
        (["generate", space, "-o", "afile"], "-o afile is a file"),
        (["export", "missing.json", "-o", "x.py"], "missing.json: cannot read the genotype"),
        (["export", "bad.json", "-o", "x.py"], "not valid JSON"),
        (["search", fake, "--config", "missing.toml"], "cannot read config file missing.toml"),
        (["search", fake, "--out", "afile"], "afile is a file"),
        (["search", fake, "--data-dir", "nodata", "--out", "r"], "CIFAR-10 not found"),
        (["train", fake, "--genotype", "right", "--data-dir", "nodata"], "--download to fetch"),
        (["search", fake, "--dataset", "imagefolder:nowhere"], "not a directory"),
        (["sweep", fake, "--cost-weight", "0", "--data-dir", "nd", "--out", "s"], "CIFAR-10 not"),
    ]
    runner = CliRunner()
    for args, message in cases:
        result = runner.invoke(main, args)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output, (args, result.output)
        assert not LIBRARY_WORDS.search(result.output), (args, result.output)
        assert result.exception is None or isinstance(result.exception, SystemExit)
    # and the failed runs left no folder behind
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "bad.json"]


# ---- the README's test command ------------------------------------------------------------


README_TESTS = ["tests/install/test_readme.py"]  # a quick file: the summary is what counts


def test_the_readme_test_command_prints_the_summary_line():
    # the README says `python -m pytest -q`; pyproject's addopts must not make it -qq
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/install/test_readme.py",
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    last = result.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"\d+ passed(, \d+ \w+)* in [\d.]+s( \(.*\))?", last), result.stdout


class _InterruptImport:
    """A meta-path finder that raises KeyboardInterrupt when `sedsl.cli` is imported, as a
    Ctrl-C in the first tenth of a second of `sedsl` does."""

    def find_spec(self, name, path=None, target=None):
        if name == "sedsl.cli":
            raise KeyboardInterrupt
        return None


def test_ctrl_c_while_the_cli_imports_aborts_as_click_does(monkeypatch, capsys):
    from sedsl.__main__ import run

    monkeypatch.delitem(sys.modules, "sedsl.cli")
    monkeypatch.setattr(sys, "meta_path", [_InterruptImport(), *sys.meta_path])
    with pytest.raises(SystemExit) as exit_:
        run()
    assert exit_.value.code == 1
    assert capsys.readouterr().err == "\nAborted!\n"


def test_python_dash_m_sedsl_is_the_cli(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "sedsl", "--version"], capture_output=True, text=True, cwd=tmp_path
    )
    assert done.returncode == 0 and done.stdout.startswith("sedsl, version"), done
