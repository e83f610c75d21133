"""Every generated `fixed.py` stands alone: copied by itself into an empty directory and imported
by an isolated interpreter (`python -I`) in which `sedsl` cannot be imported (a fake `sedsl.py`
that raises ImportError shadows the installed package), it builds every declared genotype, as
its named class and through `build_fixed`, at every CIFAR point, and runs it at batch size 2 in
training and in eval mode. Then a subset goes through `torch.export` and `torch.compile`."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap

import pytest
import torch

from tests.codegen.helpers import GENERATED, GENERATED_SPACES, ROOT, load_generated, manifest

CHILD = textwrap.dedent(
    """
    import importlib, inspect, json, sys
    here, repo, spaces = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    sys.path.insert(0, here)
    assert not any(p and (p == repo or p.startswith(repo + "/")) for p in sys.path), sys.path
    try:
        import sedsl  # noqa: F401
    except ImportError:
        pass
    else:
        raise SystemExit("sedsl is importable in the child")
    sys.modules.pop("sedsl", None)
    import torch
    from torch import nn
    torch.set_num_threads(1)
    report = {}
    for space, points in spaces.items():
        fixed = importlib.import_module(space + "_fixed")
        classes = {
            name: obj for name, obj in vars(fixed).items()
            if inspect.isclass(obj) and issubclass(obj, nn.Module)
            and obj.__module__ == fixed.__name__
        }
        runs = 0
        for genotype_name, genotype in fixed.GENOTYPES.items():
            named = [
                c for c in classes.values()
                if any(f'GENOTYPES["{genotype_name}"]' in line
                       for line in inspect.getsource(c.__init__).splitlines())
            ]
            assert len(named) == 1, (space, genotype_name, named)
            for c, h, w in points:
                torch.manual_seed(0)
                built = fixed.build_fixed(genotype, c, h, w)
                torch.manual_seed(0)
                direct = named[0](c, h, w)
                assert direct.state_dict().keys() == built.state_dict().keys()
                x = torch.randn(2, c, h, w)  # BN over a pooled descriptor needs 2
                for train in (True, False):
                    built.train(train)
                    direct.train(train)
                    torch.manual_seed(1)  # the same dropout masks (BAT)
                    y = built(x)
                    assert y.shape == x.shape and torch.isfinite(y).all(), (space, genotype_name)
                    torch.manual_seed(1)
                    assert torch.equal(y, direct(x)), (space, genotype_name)
                if y.requires_grad:  # not for an identity genotype
                    y.sum().backward()
                runs += 1
        report[space] = runs
    leaked = sorted(
        name for name, module in sys.modules.items()
        if (getattr(module, "__file__", None) or "").startswith(repo + "/")
        or name == "sedsl" or name.startswith("sedsl.")
    )
    assert not leaked, leaked
    print(json.dumps(report))
    """
)


def cifar_points(space: str) -> list[tuple[int, int, int]]:
    points = manifest(space)["points"]
    chosen = points.get("resnet20") or next(iter(points.values()))
    return [(p["C"], p["H"], p["W"]) for p in chosen]


def test_fixed_files_import_and_run_with_only_torch(tmp_path):
    for space in GENERATED_SPACES:
        shutil.copy(GENERATED / space / "fixed.py", tmp_path / f"{space}_fixed.py")
    (tmp_path / "sedsl.py").write_text(
        'raise ImportError("sedsl must not be needed by a generated fixed.py")\n',
        encoding="utf-8",
    )
    spaces = {space: cifar_points(space) for space in GENERATED_SPACES}
    result = subprocess.run(
        [sys.executable, "-I", "-c", CHILD, str(tmp_path), str(ROOT), json.dumps(spaces)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    for space in GENERATED_SPACES:
        expected = len(manifest(space)["genotypes"]) * len(spaces[space])
        assert report[space] == expected > 0, (space, report)


# ---- torch.export and torch.compile on a subset -------------------------------------------

EXPORTED = [
    ("sase", "paper", (16, 32, 32)),
    ("classic", "se", (16, 8, 8)),
    ("classic", "cbam", (16, 8, 8)),
    ("classic", "eca", (16, 8, 8)),
    ("classic", "scse", (16, 8, 8)),
    ("hoga", "paper", (16, 8, 8)),
    ("tse", "rows_7", (16, 10, 12)),  # tiles that do not divide the map
    ("tse", "patch_7", (16, 10, 12)),
]


@pytest.mark.parametrize(
    ("space", "genotype", "chw"), EXPORTED, ids=[f"{s}-{g}" for s, g, _ in EXPORTED]
)
def test_torch_export_matches_eager(space, genotype, chw):
    _, fixed = load_generated(space)
    torch.manual_seed(0)
    module = fixed.build_fixed(fixed.GENOTYPES[genotype], *chw).eval()
    x = torch.randn(2, *chw)
    program = torch.export.export(module, (x,))
    with torch.no_grad():
        torch.testing.assert_close(program.module()(x), module(x), rtol=0, atol=1e-6)


@pytest.mark.parametrize(
    ("space", "genotype", "backend"),
    [("sase", "paper", "inductor"), ("classic", "cbam", "aot_eager")],
    ids=["sase-paper-inductor", "classic-cbam-aot_eager"],
)
def test_torch_compile_matches_eager(space, genotype, backend):
    """One real inductor compile (SASE's, the largest graph: about 15 to 25 s on 2 cores cold);
    the classic block goes through dynamo and AOT autograd without C++ codegen to save time.
    Both with fullgraph=True, so a graph break fails."""
    import torch._dynamo

    _, fixed = load_generated(space)
    torch.manual_seed(0)
    module = fixed.build_fixed(fixed.GENOTYPES[genotype], 16, 8, 8).eval()
    x = torch.randn(1, 16, 8, 8)
    try:
        compiled = torch.compile(module, backend=backend, fullgraph=True, dynamic=False)
        with torch.no_grad():
            torch.testing.assert_close(compiled(x), module(x), rtol=1e-5, atol=1e-6)
    finally:
        torch._dynamo.reset()
