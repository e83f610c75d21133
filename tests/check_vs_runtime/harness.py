"""Check a space, generate it in process, build and run every module it makes at every point,
and say whether the checker's verdict agrees with the runtime's."""

from __future__ import annotations

import ast as pyast
import importlib
import importlib.util
import itertools
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import torch

from sedsl.check.checker import check_file, environments
from sedsl.codegen import generate

MAX_GENOTYPES = 16  # every genotype of a small space; a sample of a larger one
_count = itertools.count()


@dataclass(frozen=True)
class Verdicts:
    checker_ok: bool
    runtime_ok: bool
    checker: str  # the first error, or ""
    runtime: str  # the first failure, or ""

    @property
    def agree(self) -> bool:
        return self.checker_ok == self.runtime_ok


def _unformatted(text: str, name: str) -> str:
    pyast.parse(text)  # the generated code must still be Python; formatting changes no meaning
    return text


def _load(root: Path):
    package = f"_sedsl_fuzz_{next(_count)}"
    spec = importlib.util.spec_from_file_location(
        package, root / "__init__.py", submodule_search_locations=[str(root)]
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[package] = module
    try:
        spec.loader.exec_module(module)
        return (
            importlib.import_module(f"{package}.supernet"),
            importlib.import_module(f"{package}.fixed"),
        )
    finally:
        for name in [n for n in sys.modules if n == package or n.startswith(package + ".")]:
            del sys.modules[name]


def _run(make, point, expected) -> str:
    """'' when the module builds and returns `expected`, else what went wrong."""
    c, h, w = point
    try:
        module = make(c, h, w).eval()
        with torch.no_grad():
            y = module(torch.randn(2, c, h, w))
    except Exception as exc:  # any failure to build or run is the runtime's "no"
        return f"{type(exc).__name__}: {exc}"
    if tuple(y.shape) != expected:
        return f"returned {tuple(y.shape)}, declared {expected}"
    return ""


def verdicts(text: str) -> Verdicts:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fuzz.space"
        path.write_text(text, encoding="utf-8")
        report = check_file(path)
        errors = [d for d in report.diagnostics.sorted() if d.is_error]
        checker = f"{errors[0].code}: {errors[0].message}" if errors else ""
        if report.space is None or report.space.block is None:
            return Verdicts(not errors, False, checker, "no block to generate")
        space = report.space
        points = [
            (env["C"], env["H"], env["W"]) for _, env in environments(space)
        ]  # the declared points, with every dim bound
        with mock.patch.object(generate, "format_python", _unformatted):
            try:
                files = generate.render_space(space)
            except Exception as exc:
                return Verdicts(not errors, False, checker, f"generate: {exc}")
        root = Path(tmp) / "gen"
        root.mkdir()
        for name, content in files.items():
            (root / name).write_text(content, encoding="utf-8")
        supernet, fixed = _load(root)
        names = [e.py for e in space.block.edges]
        choices = [supernet.CANDIDATES[n] for n in names]
        genotypes = list(itertools.islice(itertools.product(*choices), MAX_GENOTYPES))
        torch.manual_seed(0)
        runtime = ""
        for point in points:
            expected = (2, *point)  # the declared result [B, C, H, W]
            runtime = _run(
                lambda c, h, w: supernet.SupernetBlock(c, h, w, supernet.Alphas()), point, expected
            )
            for chosen in genotypes:
                if runtime:
                    break
                genotype = dict(zip(names, chosen, strict=True))
                runtime = _run(
                    lambda c, h, w, g=genotype: fixed.build_fixed(g, c, h, w), point, expected
                )
            if runtime:
                runtime = f"at {point}: {runtime}"
                break
        return Verdicts(not errors, not runtime, checker, runtime)
