"""Users' own ops: `extern op name(x: [...]) -> [...] = "package.module:attribute"(args)`.

The checker trusts the declared shape rule and never imports the user's code; the generated
block imports it when it is built and checks every result against the declared shape. A missing
module, a wrong attribute and a wrong returned shape each fail with an error that names the op
(and both shapes), at build or forward. Supernet, fixed module, search and export all work with
one, and export says the file needs that code.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import math
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from sedsl.check.checker import check_file
from sedsl.codegen.generate import render_space, write_space
from sedsl.diagnostics.diagnostic import Diagnostics
from sedsl.language.format import format_module
from sedsl.language.parser import parse_text
from sedsl.search import export_genotype, run_search
from tests.codegen.helpers import ROOT

# the user's package: a module class with weights, a function, and a class that breaks its
# declared shape
USER_CODE = '''
import torch
from torch import nn


class ChannelGate(nn.Module):
    """SE's excitation on a pooled descriptor, as a user would write it."""

    def __init__(self, channels, reduction=4):
        super().__init__()
        self.fc1 = nn.Conv2d(channels, channels // reduction, 1)
        self.fc2 = nn.Conv2d(channels // reduction, channels, 1)

    def forward(self, x):
        return self.fc2(torch.relu(self.fc1(x.mean((2, 3), keepdim=True))))


def scaled_max(x, scale=1.0):
    return scale * x.amax((2, 3), keepdim=True)


class Wrong(nn.Module):
    def forward(self, x):
        return x  # declared [B, C, 1, 1], returns the whole map
'''

SPACE = """
space userops "a space with users' own ops"

## SE's excitation, from the user's package.
extern op gate(x: [B, C, H, W], reduction: int = 4) -> [B, C, 1, 1] =
  "usergates.ops:ChannelGate"(C, reduction=reduction)
extern op smax(x: [B, C, H, W], scale: float = 1.0) -> [B, C, 1, 1] =
  "usergates.ops:scaled_max"(scale=scale)
extern op shuffle(x: [B, C, H, W]) -> [B, C, H, W] = "torch.nn:ChannelShuffle"(2)

op gap(x: [B, C, H, W]) -> [B, C, 1, 1] = avg_pool(x)

opset squeeze(x: [B, C, H, W]) -> [B, C, 1, 1] {
  mine = gate(reduction=2),
  smax2 = smax(scale=2.0),
  gap,
}

block userops(x: [B, C, H, W]) -> [B, C, H, W] {
  s = squeeze(shuffle(x))
  return x * sigmoid(s)
}

check points (C, H, W) in [(8, 8, 8), (16, 4, 4)]

genotype mine { s = mine }
genotype smax { s = smax2 }
genotype gap { s = gap }
"""


@pytest.fixture
def user_package(tmp_path, monkeypatch):
    root = tmp_path / "site"
    (root / "usergates").mkdir(parents=True)
    (root / "usergates" / "__init__.py").write_text("", encoding="utf-8")
    (root / "usergates" / "ops.py").write_text(USER_CODE, encoding="utf-8")
    monkeypatch.syspath_prepend(str(root))
    yield root
    for name in [m for m in sys.modules if m == "usergates" or m.startswith("usergates.")]:
        del sys.modules[name]


def _generate(tmp_path: Path, text: str = SPACE, name: str = "userops") -> Path:
    source = tmp_path / f"{name}.space"
    source.write_text(text, encoding="utf-8")
    report = check_file(source)
    assert report.ok, [str(d) for d in report.diagnostics]
    return write_space(render_space(report.space), tmp_path / "generated", report.space.name)


def _load(space_dir: Path, tag: str):
    package = f"_sedsl_extern_test_{tag}"
    spec = importlib.util.spec_from_file_location(
        package, space_dir / "__init__.py", submodule_search_locations=[str(space_dir)]
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[package] = module
    spec.loader.exec_module(module)
    supernet = importlib.import_module(f"{package}.supernet")
    fixed = importlib.import_module(f"{package}.fixed")
    return supernet, fixed


def _diagnostics(tmp_path: Path, text: str) -> list:
    source = tmp_path / "t.space"
    source.write_text(textwrap.dedent(text), encoding="utf-8")
    return list(check_file(source).diagnostics)


# ---- the language ------------------------------------------------------------------------


def test_extern_op_formats_and_parses_back():
    diagnostics = Diagnostics()
    module = parse_text(SPACE, "t.space", diagnostics)
    text = format_module(module)
    line = 'extern op shuffle(x: [B, C, H, W]) -> [B, C, H, W] = "torch.nn:ChannelShuffle"(2)'
    assert line in text
    again = parse_text(text, "t.space", diagnostics)
    assert not list(diagnostics)
    assert again == module and format_module(again) == text


def test_check_uses_the_declared_shape_rule_and_imports_nothing(tmp_path):
    report = check_file(_write(tmp_path, SPACE))
    assert report.ok and not list(report.diagnostics)
    assert "usergates" not in sys.modules  # the checker never imports the user's code
    gate = report.space.op("gate")
    assert [str(d) for d in gate.result] == ["B", "C", "1", "1"]
    # a set that wants a spatial map: the declared [B, C, 1, 1] does not meet it
    wrong = SPACE.replace(
        "opset squeeze(x: [B, C, H, W]) -> [B, C, 1, 1] {",
        "opset squeeze(x: [B, C, H, W]) -> [B, 1, H, W] {",
    )
    diags = list(check_file(_write(tmp_path, wrong)).diagnostics)
    # no candidate meets it, so one E025 at the signature says what `mine` gives
    (sig,) = [d for d in diags if d.code == "E025"]
    assert "`mine`" in sig.notes[0] and "gives [B, C, 1, 1]" in [lab.message for lab in sig.labels]


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "userops.space"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "target", ["usergates", "usergates.ops:", ":Gate", "user gates:Gate", "a.b:c-d", "a..b:C"]
)
def test_a_target_not_of_the_form_module_colon_attribute_is_e012(tmp_path, target):
    text = f"""
    space bad
    extern op g(x: [B, C, H, W]) -> [B, C, 1, 1] = "{target}"
    block bad(x: [B, C, H, W]) -> [B, C, H, W] {{
      return x * g(x)
    }}
    """
    diags = _diagnostics(tmp_path, text)
    assert [d.code for d in diags] == ["E012"], diags
    assert "package.module:attribute" in diags[0].message and target in diags[0].message


def test_a_bad_argument_of_the_users_code_is_reported(tmp_path):
    text = """
    space bad
    extern op g(x: [B, C, H, W]) -> [B, C, 1, 1] = "m:G"(K, k=1, k=2)
    block bad(x: [B, C, H, W]) -> [B, C, H, W] {
      return x * g(x)
    }
    """
    codes = sorted(d.code for d in _diagnostics(tmp_path, text))
    assert codes == ["E010", "E016"]  # K is unknown; k is given twice (E016)


def test_cli_check_of_a_bad_target_exits_1_without_a_traceback(tmp_path):
    path = tmp_path / "bad.space"
    path.write_text(
        'space bad\nextern op g(x: [B, C, H, W]) -> [B, C, 1, 1] = "nocolon"\n'
        "block bad(x: [B, C, H, W]) -> [B, C, H, W] {\n  return x * g(x)\n}\n",
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, "-m", "sedsl.cli", "check", str(path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert done.returncode == 1 and "Traceback" not in done.stderr + done.stdout
    assert "E012" in done.stdout and '"nocolon"' in done.stdout


# ---- generated code ----------------------------------------------------------------------


def test_fixed_module_runs_the_users_code_with_its_weights(tmp_path, user_package):
    supernet, fixed = _load(_generate(tmp_path), "fixed")
    assert fixed.EXTERN_OPS["gate"] == "usergates.ops:ChannelGate"
    from usergates.ops import ChannelGate

    torch.manual_seed(0)
    for c, h, w in ((8, 8, 8), (16, 5, 7)):
        block = fixed.build_fixed(fixed.GENOTYPES["mine"], c, h, w)
        reference = ChannelGate(c, reduction=2)
        names = {k.removeprefix("s.op.inner."): v for k, v in block.state_dict().items()}
        reference.load_state_dict(names)  # every weight of the block is the user's module's
        x = torch.randn(2, c, h, w)
        shuffled = torch.nn.ChannelShuffle(2)(x)
        expected = x * torch.sigmoid(reference(shuffled))
        torch.testing.assert_close(block(x), expected)
    smax = fixed.build_fixed(fixed.GENOTYPES["smax"], 8, 8, 8)
    x = torch.randn(2, 8, 8, 8)
    shuffled = torch.nn.ChannelShuffle(2)(x)
    expected = x * torch.sigmoid(2.0 * shuffled.amax((2, 3), keepdim=True))
    torch.testing.assert_close(smax(x), expected)


def test_supernet_trains_through_the_users_code(tmp_path, user_package):
    supernet, _ = _load(_generate(tmp_path), "supernet")
    alphas = supernet.Alphas()
    block = supernet.SupernetBlock(8, 8, 8, alphas)
    out = block(torch.randn(2, 8, 8, 8))
    out.square().mean().backward()
    gate = block.s.candidates[0].op.inner
    assert gate.fc1.weight.grad is not None and alphas.alphas["s"].grad is not None


def test_a_missing_module_fails_at_build_naming_op_and_module(tmp_path):
    _, fixed = _load(_generate(tmp_path), "missing")
    message = "extern op `gate` needs module `usergates.ops`"
    with pytest.raises(ImportError, match=re.escape(message)):
        fixed.build_fixed(fixed.GENOTYPES["mine"], 8, 8, 8)
    # a genotype without the user's op builds without it
    assert fixed.build_fixed(fixed.GENOTYPES["gap"], 8, 8, 8)(torch.randn(1, 8, 8, 8)).shape


def test_a_wrong_attribute_fails_at_build_with_a_suggestion(tmp_path, user_package):
    text = SPACE.replace("usergates.ops:ChannelGate", "usergates.ops:ChanelGate")
    _, fixed = _load(_generate(tmp_path, text), "attribute")
    message = (
        'extern op `gate`: `usergates.ops` has no attribute `ChanelGate` ("usergates.ops:'
        'ChanelGate"); did you mean `ChannelGate`?'
    )
    with pytest.raises(ImportError, match=re.escape(message)):
        fixed.build_fixed(fixed.GENOTYPES["mine"], 8, 8, 8)


def test_a_wrong_returned_shape_fails_at_forward_naming_op_and_both_shapes(tmp_path, user_package):
    text = SPACE.replace(
        '"usergates.ops:ChannelGate"(C, reduction=reduction)', '"usergates.ops:Wrong"'
    )
    supernet, fixed = _load(_generate(tmp_path, text), "shape")
    message = (
        'extern op `gate` ("usergates.ops:Wrong") returned shape [2, 8, 6, 4], but the space '
        "declares [B, C, 1, 1], which is [2, 8, 1, 1] for input [2, 8, 6, 4]"
    )
    block = fixed.build_fixed(fixed.GENOTYPES["mine"], 8, 6, 4)
    with pytest.raises(ValueError, match=re.escape(message)):
        block(torch.randn(2, 8, 6, 4))
    with pytest.raises(ValueError, match=re.escape(message)):
        supernet.SupernetBlock(8, 6, 4, supernet.Alphas())(torch.randn(2, 8, 6, 4))


def test_a_constructor_that_refuses_its_arguments_is_named(tmp_path, user_package):
    text = SPACE.replace("(C, reduction=reduction)", "(C, width=W)")
    _, fixed = _load(_generate(tmp_path, text), "ctor")
    with pytest.raises(
        TypeError, match=re.escape('cannot build "usergates.ops:ChannelGate"(8, width=8)')
    ):
        fixed.build_fixed(fixed.GENOTYPES["mine"], 8, 8, 8)


def test_users_code_built_with_the_height_pins_the_size(tmp_path):
    text = SPACE.replace("(C, reduction=reduction)", "(C, H)")
    report = check_file(_write(tmp_path, text))
    pins = {(c["candidate"], c["pinned_by"]) for c in _sizes(report.space)["candidates"]}
    assert ("mine", "extern op `gate` of `gate` (candidate `mine` of `squeeze`)") in pins
    assert ("smax2", None) in pins and ("gap", None) in pins


def _sizes(space):
    from sedsl.check.sizes import size_report

    return size_report(space, "t.space")


# ---- search and export -------------------------------------------------------------------


def test_searches_on_digits_and_exports_saying_what_it_imports(tmp_path, user_package):
    torch.set_num_threads(1)
    space_dir = _generate(tmp_path)
    smoke = {
        "epochs": 1,
        "steps_per_epoch": 2,
        "batch_size": 8,
        "eval_batches": 1,
        "order": 1,
        "width": 16,
    }
    run = run_search(space_dir, dataset="digits", out=tmp_path / "run", overrides=smoke, quiet=True)
    rows = list(csv.DictReader((run / "metrics.csv").read_text().splitlines()))
    assert math.isfinite(float(rows[0]["train_loss"]))
    record = json.loads((run / "genotype.json").read_text())
    record["genotype"], record["space_dir"] = {"s": "mine"}, str(space_dir)
    (tmp_path / "mine.json").write_text(json.dumps(record), encoding="utf-8")
    # verified in an interpreter that cannot import sedsl but sees the user's package
    out = export_genotype(tmp_path / "mine.json", tmp_path / "searched.py")
    text = out.read_text(encoding="utf-8")
    assert "#   usergates.ops:ChannelGate (extern op gate)" in text
    assert "#   torch.nn:ChannelShuffle (extern op shuffle)" in text
    assert "scaled_max (extern op" not in text  # not chosen, not needed
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "sedsl.cli",
            "export",
            str(tmp_path / "mine.json"),
            "-o",
            str(tmp_path / "cli.py"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**_env(), "PYTHONPATH": f"{ROOT}:{user_package}"},
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert (
        'note: the file imports "usergates.ops:ChannelGate" (extern op `gate`) when the block '
        "is built" in done.stdout
    )


def _env() -> dict[str, str]:
    import os

    return dict(os.environ)


def test_generate_notes_a_package_it_cannot_find_and_still_generates(tmp_path):
    source = _write(tmp_path, SPACE)
    done = subprocess.run(
        [sys.executable, "-m", "sedsl.cli", "generate", str(source), "-o", str(tmp_path / "g")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**_env(), "PYTHONPATH": str(ROOT)},
        timeout=120,
    )
    assert done.returncode == 0 and (tmp_path / "g" / "userops" / "fixed.py").is_file()
    assert 'extern op `gate` imports "usergates.ops:ChannelGate", but `usergates` is not' in (
        done.stderr
    )
    assert "extern op `shuffle`" not in done.stderr  # torch is importable
