"""Helpers of the code-generation tests: paths, a `sedsl` subprocess, and a loader that imports
a generated space package by path (so its `from .ops import ...` works)."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

from sedsl.check.checker import check_file
from sedsl.codegen.generate import render_space, write_space

ROOT = Path(__file__).resolve().parents[2]
SPACES = ROOT / "spaces"
GENERATED = ROOT / "generated"
SPACE_FILES = sorted(SPACES.glob("*.space"))
GENERATED_SPACES = sorted(p.name for p in GENERATED.iterdir() if (p / "space.json").is_file())


def run_sedsl(*args: str, cwd: Path = ROOT, timeout: float = 120) -> subprocess.CompletedProcess:
    """`sedsl ARGS` in a subprocess, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "sedsl.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def ruff() -> str:
    return shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")


def manifest(space: str) -> dict:
    return json.loads((GENERATED / space / "space.json").read_text(encoding="utf-8"))


_LOADED: dict[str, tuple[ModuleType, ModuleType]] = {}


def load_generated(space: str) -> tuple[ModuleType, ModuleType]:
    """(supernet, fixed) of generated/<space>, imported as a uniquely named package."""
    if space not in _LOADED:
        root = GENERATED / space
        package = f"_sedsl_codegen_test_{space}"
        spec = importlib.util.spec_from_file_location(
            package, root / "__init__.py", submodule_search_locations=[str(root)]
        )
        module = importlib.util.module_from_spec(spec)
        sys.modules[package] = module
        spec.loader.exec_module(module)
        _LOADED[space] = (
            importlib.import_module(f"{package}.supernet"),
            importlib.import_module(f"{package}.fixed"),
        )
    return _LOADED[space]


def _load_package(root: Path, package: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        package, root / "__init__.py", submodule_search_locations=[str(root)]
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[package] = module
    spec.loader.exec_module(module)
    return importlib.import_module(f"{package}.supernet")


_REFERENCE: dict[str, ModuleType] = {}


def reference_supernet(space: str, out: Path) -> ModuleType:
    """supernet.py of `space` generated with --supernet reference (each candidate a module
    that DARTS' MixedOp calls), written under `out` and imported."""
    if space not in _REFERENCE:
        ir = check_file(ROOT / manifest(space)["source"]).space
        files = render_space(ir, supernet="reference")
        write_space(files, out, space)
        _REFERENCE[space] = _load_package(out / space, f"_sedsl_reference_{space}")
    return _REFERENCE[space]
