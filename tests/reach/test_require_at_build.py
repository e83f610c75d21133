"""`require` is enforced when a generated module is built: the supernet, every fixed module and
an exported file raise a ValueError that quotes the requirement and the values breaking it,
instead of failing later with a zero-sized weight."""

from __future__ import annotations

import importlib.util
import json
import re

import pytest
import torch

from sedsl.search import export_genotype
from tests.codegen.helpers import GENERATED, load_generated, manifest

# classic: `require C // reduction >= 1` with reduction = 16; hoga: `require C % K == 0` first
BROKEN = [
    (
        "classic",
        (8, 8, 8),
        "requirement `C // reduction >= 1` fails (with C=8, reduction=16: C // reduction = 0)",
    ),
    ("hoga", (18, 8, 8), "requirement `C % K == 0` fails (with C=18, K=4: C % K = 2)"),
]


@pytest.mark.parametrize(("space", "size", "message"), BROKEN, ids=[b[0] for b in BROKEN])
def test_supernet_and_fixed_refuse_a_size_the_requirements_rule_out(space, size, message):
    supernet, fixed = load_generated(space)
    with pytest.raises(ValueError, match=re.escape(message)):
        supernet.SupernetBlock(*size, supernet.Alphas())
    for genotype in fixed.GENOTYPES.values():
        with pytest.raises(ValueError, match=re.escape(message)):
            fixed.build_fixed(genotype, *size)


def test_a_size_the_requirements_allow_builds():
    supernet, fixed = load_generated("classic")
    x = torch.randn(1, 16, 8, 8)
    assert supernet.SupernetBlock(16, 8, 8, supernet.Alphas())(x).shape == x.shape
    assert fixed.build_fixed(fixed.GENOTYPES["se"], 16, 8, 8)(x).shape == x.shape


def test_exported_file_refuses_a_size_the_requirements_rule_out(tmp_path):
    data = manifest("classic")
    record = {
        "space": "classic",
        "space_dir": str(GENERATED / "classic"),
        "source_sha256": data["source_sha256"],
        "genotype": data["genotypes"]["cbam"],
    }
    (tmp_path / "genotype.json").write_text(json.dumps(record), encoding="utf-8")
    out = export_genotype(tmp_path / "genotype.json", tmp_path / "searched.py")
    spec = importlib.util.spec_from_file_location("searched_classic", out)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with pytest.raises(ValueError, match=re.escape(BROKEN[0][2])):
        module.build_searched(8, 8, 8)
    assert module.build_searched(16, 8, 8)(torch.randn(1, 16, 8, 8)).shape == (1, 16, 8, 8)


# timm_bat: `require H % block_size == 0` and the same of W, block_size = 7
BAT_AT_12x10 = (
    "requirement `H % block_size == 0` fails (with H=12, block_size=7: H % block_size = 5)"
)


def _bat_refuses_12x10_and_runs_at_21x7(block) -> None:
    """Built at 14 x 14, where the requirements hold; run at another size, they are checked
    again, instead of the reshapes failing with torch's own error."""
    with pytest.raises(ValueError, match=re.escape(BAT_AT_12x10)):
        block(torch.randn(1, 16, 12, 10))
    with pytest.raises(ValueError, match=re.escape(BAT_AT_12x10)):  # not only the first time
        block(torch.randn(1, 16, 12, 10))
    assert block(torch.randn(1, 16, 21, 7)).shape == (1, 16, 21, 7)
    assert block(torch.randn(1, 16, 14, 14)).shape == (1, 16, 14, 14)


def test_requirements_on_the_size_are_checked_again_at_forward():
    supernet, fixed = load_generated("timm_bat")
    _bat_refuses_12x10_and_runs_at_21x7(supernet.SupernetBlock(16, 14, 14, supernet.Alphas()))
    for genotype in fixed.GENOTYPES.values():
        _bat_refuses_12x10_and_runs_at_21x7(fixed.build_fixed(genotype, 16, 14, 14))


def test_exported_file_checks_requirements_on_the_size_at_forward(tmp_path):
    data = manifest("timm_bat")
    record = {
        "space": "timm_bat",
        "space_dir": str(GENERATED / "timm_bat"),
        "source_sha256": data["source_sha256"],
        "genotype": data["genotypes"]["bat"],
    }
    (tmp_path / "genotype.json").write_text(json.dumps(record), encoding="utf-8")
    out = export_genotype(tmp_path / "genotype.json", tmp_path / "searched.py")
    spec = importlib.util.spec_from_file_location("searched_timm_bat", out)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    _bat_refuses_12x10_and_runs_at_21x7(module.build_searched(16, 14, 14))
