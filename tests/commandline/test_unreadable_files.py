"""Every command that reads a genotype, config or swap record says in one line that the file
is not text (exit 2) when it is not UTF-8 or is binary, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from sedsl.cli import main

ROOT = Path(__file__).resolve().parents[2]
SPACE = str(ROOT / "generated" / "sase")

NOT_TEXT = {
    "latin1": (b'{"genotype": "caf\xe9"}', "not UTF-8 text (byte 0xe9 at offset 17)"),
    "binary": (b"\x00\x01\x02{}", "a binary file, not text (a NUL byte at offset 0)"),
}


def _commands(file: Path, tmp: Path) -> dict[str, list[str]]:
    genotype = ["--genotype", str(file)]
    return {
        "export": ["export", str(file), "-o", str(tmp / "out.py")],
        "cost": ["cost", SPACE, *genotype, "--backbone", "resnet20"],
        "search --config": ["search", SPACE, "--config", str(file), "--out", str(tmp / "s")],
        "train": ["train", SPACE, *genotype, "--dataset", "synthetic", "--out", str(tmp / "t")],
        "swap": ["swap", "regnet_y_400mf", SPACE, *genotype, "--out", str(tmp / "w")],
        "graph --genotype": ["graph", "spaces/sase.space", "-o", str(tmp / "g.svg"), *genotype],
        "evaluate": ["evaluate", str(file.parent), "--data", str(tmp)],
    }


# a config file may be TOML or YAML too; the others are JSON
CASES = [(command, ".json") for command in _commands(Path("x"), Path("y"))]
CASES += [("search --config", ".toml"), ("search --config", ".yaml")]


@pytest.mark.parametrize("kind", sorted(NOT_TEXT))
@pytest.mark.parametrize(("command", "suffix"), CASES)
def test_a_file_that_is_not_text_is_one_clear_error(tmp_path, monkeypatch, command, suffix, kind):
    monkeypatch.chdir(ROOT)
    data, why = NOT_TEXT[kind]
    folder = tmp_path / "in"
    folder.mkdir()
    name = "swap.json" if command == "evaluate" else f"bad{suffix}"
    file = folder / name
    file.write_bytes(data)
    result = CliRunner().invoke(main, _commands(file, tmp_path)[command])
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    assert f"{file}" in result.output and why in result.output, result.output
