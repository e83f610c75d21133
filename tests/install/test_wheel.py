"""The wheel works anywhere: built from the source tree, installed non-editable into a fresh
virtual environment, it checks, generates and searches a space in a folder of the user's own
that imports a shipped library by name and a library of its own by relative path."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# what a wheel is built from (the sdist's content): packaging files, the package, its data
SOURCES = ("pyproject.toml", "setup.py", "README.md", "sedsl", "grammars", "templates", "spaces")

USER_SPACE = """\
space gate "A channel gate from the shipped library and a squeeze of the user's own"

import "sedsl:attention"
import "mylib/squeezes.space"

param reduction: int = 8

block gate(x: [B, C, H, W]) -> [B, C, H, W] {
  s = squeeze(x)
  return x * sigmoid(fc(s, reduction=reduction))
}

require C // reduction >= 1
check resnet20 (C, H, W) in [(16, 32, 32), (32, 16, 16), (64, 8, 8)]

genotype se_like { s = gap }
"""

USER_LIB = """\
# a library of the user's own, imported relative to the space
opset squeeze(x: [B, C, H, W]) -> [B, C, 1, 1] {
  gap,
  gap_gmp,
}
"""


def _run(cmd: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"{cmd} failed:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """A fresh venv (sharing the system's torch) with the wheel installed, and its env."""
    base = tmp_path_factory.mktemp("wheel")
    src = base / "src"
    for name in SOURCES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            src.mkdir(exist_ok=True)
            shutil.copy2(source, src / name)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["SEDSL_CACHE_DIR"] = str(base / "cache")
    env["OMP_NUM_THREADS"] = "1"
    pip = ["-m", "pip", "--disable-pip-version-check", "-q"]
    _run(
        [sys.executable, *pip, "wheel", "--no-deps", "--no-build-isolation", "--no-index"]
        + ["-w", str(base / "dist"), str(src)],
        base,
        env,
    )
    (wheel,) = (base / "dist").glob("sedsl-*.whl")
    # --system-site-packages: torch and the other dependencies come from this environment;
    # --without-pip: the system's pip installs into the venv
    venv = base / "venv"
    _run(
        [sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)],
        base,
        env,
    )
    python = venv / ("Scripts" if os.name == "nt" else "bin") / "python"
    _run([str(python), *pip, "install", "--no-deps", "--no-index", str(wheel)], base, env)
    return wheel, {**env, "PATH": f"{python.parent}{os.pathsep}{env.get('PATH', '')}"}


def test_wheel_carries_grammar_templates_and_libraries(installed):
    wheel, _ = installed
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {"sedsl/grammars/space.lark", "sedsl/grammars/space.lalr.json"}
    expected |= {f"sedsl/templates/{p.name}" for p in (ROOT / "templates").glob("*.j2")}
    expected |= {f"sedsl/lib/{p.name}" for p in (ROOT / "spaces" / "lib").glob("*.space")}
    assert len(expected) > 3
    assert expected <= names, sorted(expected - names)
    packages = {str(p.parent.relative_to(ROOT)) for p in (ROOT / "sedsl").rglob("__init__.py")}
    assert {f"{p}/__init__.py" for p in packages} <= names


def test_installed_wheel_checks_generates_and_searches_from_any_folder(installed, tmp_path):
    _, env = installed
    (tmp_path / "mylib").mkdir()
    (tmp_path / "mylib" / "squeezes.space").write_text(USER_LIB, encoding="utf-8")
    (tmp_path / "gate.space").write_text(USER_SPACE, encoding="utf-8")
    where = _run(["python", "-c", "import sedsl; print(sedsl.__file__)"], tmp_path, env)
    assert "site-packages" in where.stdout and str(ROOT) not in where.stdout, where.stdout

    checked = _run(["sedsl", "check", "gate.space"], tmp_path, env)
    assert "gate.space: ok: space `gate`" in checked.stdout
    _run(["sedsl", "generate", "gate.space", "-o", "out"], tmp_path, env)
    assert {p.name for p in (tmp_path / "out" / "gate").iterdir()} >= {
        "ops.py",
        "supernet.py",
        "fixed.py",
        "space.json",
    }
    flags = ["--dataset", "synthetic", "--epochs", "1", "--steps-per-epoch", "2"]
    flags += ["--eval-batches", "1", "--batch-size", "8", "--device", "cpu", "--quiet"]
    _run(["sedsl", "search", "out/gate", *flags, "--out", "run"], tmp_path, env)
    genotype = json.loads((tmp_path / "run" / "genotype.json").read_text(encoding="utf-8"))
    assert set(genotype["genotype"]) == {"s"}
    assert genotype["genotype"]["s"] in ("gap", "gap_gmp")


def test_a_missing_shipped_library_lists_the_shipped_ones(installed, tmp_path):
    _, env = installed
    (tmp_path / "bad.space").write_text(
        USER_SPACE.replace("sedsl:attention", "sedsl:atention"), encoding="utf-8"
    )
    result = subprocess.run(
        ["sedsl", "check", "--format", "concise", "bad.space"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert 'sedsl ships no library "sedsl:atention"' in result.stdout
    assert "Traceback" not in result.stderr


def test_installed_wheel_parses_with_its_shipped_tables(installed, tmp_path):
    """The fast parser finds grammars/space.lalr.json in the wheel (it declines without
    it, silently slower), and a clean parse leaves lark unimported."""
    _, env = installed
    probe = (
        "import sys; from sedsl.language import fastparse\n"
        "module = fastparse.parse('param p: int = 1\\n', 'f.space')\n"
        "print(fastparse._tables() is not None, module is not None, 'lark' in sys.modules)\n"
    )
    result = _run(["python", "-c", probe], tmp_path, env)
    assert result.stdout.split() == ["True", "True", "False"], result.stdout
