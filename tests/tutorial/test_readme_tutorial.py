"""The README tutorial's ```space file=PATH blocks: each checks clean, generates, and its
genotypes compute what the block says; the rotating gate equals torch written by hand."""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path

import torch

from sedsl.check.checker import check_file
from sedsl.codegen.generate import render_space, write_space

ROOT = Path(__file__).parents[2]
FENCE = re.compile(r"^```space file=(\S+)\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def readme_spaces() -> dict[str, str]:
    return dict(FENCE.findall((ROOT / "README.md").read_text(encoding="utf-8")))


def test_the_rotating_gate_checks_generates_and_equals_torch(tmp_path):
    source = readme_spaces()["spaces/rotated.space"]
    path = tmp_path / "rotated.space"
    path.write_text(source, encoding="utf-8")
    report = check_file(path)
    assert report.ok, [f"{d.code} {d.message}" for d in report.diagnostics]
    out = write_space(render_space(report.space), tmp_path / "generated", "rotated")
    spec = importlib.util.spec_from_file_location(
        "readme_rotated", out / "__init__.py", submodule_search_locations=[str(out)]
    )
    sys.modules[spec.name] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sys.modules[spec.name])
    fixed = importlib.import_module("readme_rotated.fixed")
    for c, h, w in [(16, 32, 32), (6, 5, 7)]:
        block = fixed.build_fixed(fixed.GENOTYPES["k7"], c, h, w).double()
        (conv,) = [m for m in block.modules() if isinstance(m, torch.nn.Conv2d)]
        x = torch.randn(2, c, h, w, dtype=torch.float64)
        r = x.transpose(1, 2)  # H becomes the channel axis
        z = torch.cat([r.amax(1, keepdim=True), r.mean(1, keepdim=True)], dim=1)
        gate = torch.sigmoid(torch.nn.functional.conv2d(z, conv.weight, padding=3))
        torch.testing.assert_close(block(x), (r * gate).transpose(1, 2), rtol=1e-10, atol=1e-12)
