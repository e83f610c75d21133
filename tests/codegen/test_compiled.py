"""The compiled supernet (the default of `sedsl generate`, sedsl/codegen/compile.py) computes
what the reference supernet (`--supernet reference`, DARTS' MixedOp) does: for every shipped
space, in float64, at its CIFAR check points and one ImageNet-size point, the same output, the
same running statistics and the same gradients with respect to the input, every weight and
every alpha, to 1e-10 relative; and a checkpoint of either loads into the other."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest
import torch

from tests.codegen.helpers import (
    GENERATED_SPACES,
    load_generated,
    manifest,
    reference_supernet,
)

RTOL = 1e-10
DEVICES = [
    "cpu",
    pytest.param(
        "cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
    ),
]


@pytest.fixture(scope="module")
def reference_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("reference")


def points(space: str) -> list[dict[str, int]]:
    """The CIFAR check points (H <= 32) and the smallest other one (ImageNet-size)."""
    every = [p for ps in manifest(space)["points"].values() for p in ps]
    cifar = [p for p in every if p["H"] <= 32 and p["W"] <= 32]
    large = [p for p in every if p not in cifar]
    chosen = cifar + ([min(large, key=lambda p: p["C"] * p["H"] * p["W"])] if large else [])
    return list({tuple(sorted(p.items())): p for p in chosen}.values())


def build(supernet: ModuleType, space: str, point: dict[str, int], device: str):
    dims = {
        d["arg"]: point[d["name"]] for d in manifest(space).get("dims", []) if d["name"] in point
    }
    torch.manual_seed(0)
    alphas = supernet.Alphas()
    block = supernet.SupernetBlock(point["C"], point["H"], point["W"], alphas, **dims)
    return block.to(device, torch.float64).train(), alphas.to(device, torch.float64)


def close(a: torch.Tensor, b: torch.Tensor) -> bool:
    scale = max(b.abs().max().item(), 1e-300)
    return (a - b).abs().max().item() <= RTOL * scale


def run(block, alphas, x: torch.Tensor, seed: int):
    """Output, input gradient and every parameter's gradient of a random projection of the
    output (the same projection for the same seed and output shape)."""
    x = x.clone().requires_grad_(True)
    torch.manual_seed(seed)  # candidates with dropout draw the same masks in both supernets
    y = block(x)
    generator = torch.Generator().manual_seed(seed)
    probe = torch.randn(y.shape, generator=generator, dtype=torch.float64).to(y.device)
    (y * probe).sum().backward()
    grads = {n: p.grad for n, p in block.named_parameters()}
    grads |= {f"alphas.{n}": p.grad for n, p in alphas.named_parameters()}
    return y.detach(), x.grad, grads


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("space", GENERATED_SPACES)
def test_compiled_supernet_equals_reference(space, device, reference_dir):
    compiled_module, _ = load_generated(space)
    assert_equals_reference(compiled_module, space, device, reference_dir)


def recomputing_supernet(space: str, out: Path) -> ModuleType:
    """supernet.py of `space` generated with --recompute into `out`."""
    from sedsl.check.checker import check_file
    from sedsl.codegen.generate import render_space, write_space
    from tests.codegen.helpers import ROOT, _load_package

    files = render_space(check_file(ROOT / manifest(space)["source"]).space, recompute=True)
    assert "recomputed(self" in files["supernet.py"]
    write_space(files, out, space)
    return _load_package(out / space, f"_sedsl_recomputed_{space}")


@pytest.mark.parametrize("space", ["sase", "hoga"])
def test_recomputing_supernet_equals_reference(space, reference_dir, tmp_path):
    """--recompute: the same output and gradients (checkpointed edges, GSoP's BN run once)."""
    assert_equals_reference(recomputing_supernet(space, tmp_path), space, "cpu", reference_dir)


def assert_equals_reference(compiled_module: ModuleType, space, device, reference_dir) -> None:
    reference_module = reference_supernet(space, reference_dir)
    assert "MixedOp(MixedOp)" not in Path(compiled_module.__file__).read_text(encoding="utf-8")
    for point in points(space):
        compiled, c_alphas = build(compiled_module, space, point, device)
        reference, r_alphas = build(reference_module, space, point, device)
        state = {k: v.shape for k, v in reference.state_dict().items()}
        assert {k: v.shape for k, v in compiled.state_dict().items()} == state
        # a checkpoint of the reference loads into the compiled block (strict: same keys)
        compiled.load_state_dict(reference.state_dict())
        generator = torch.Generator().manual_seed(1)
        for a_c, a_r in zip(c_alphas.parameters(), r_alphas.parameters(), strict=True):
            a_r.data = torch.randn(a_r.shape, generator=generator, dtype=torch.float64).to(device)
            a_c.data = a_r.data.clone()
        shape = (2, point["C"], point["H"], point["W"])
        x = torch.randn(shape, generator=generator, dtype=torch.float64).to(device)
        y_r, gx_r, g_r = run(reference, r_alphas, x, seed=2)
        y_c, gx_c, g_c = run(compiled, c_alphas, x, seed=2)
        where = f"{space} at {point} on {device}"
        assert close(y_c, y_r), f"output differs, {where}"
        assert close(gx_c, gx_r), f"input gradient differs, {where}"
        assert g_c.keys() == g_r.keys()
        for name, g in g_r.items():
            if g is None:
                assert g_c[name] is None, f"{name} gets a gradient only when compiled, {where}"
                continue
            assert g_c[name] is not None, f"{name} gets no gradient when compiled, {where}"
            assert close(g_c[name], g), f"gradient of {name} differs, {where}"
        for key, value in reference.state_dict().items():  # running statistics after a step
            assert close(compiled.state_dict()[key].double(), value.double()), (key, where)


def saved_bytes(block, x: torch.Tensor) -> int:
    """Bytes of the distinct storages autograd keeps for backward after one forward."""
    storages: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        storages[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        block(x.clone().requires_grad_(True))
    return sum(storages.values())


@pytest.mark.parametrize("space", ["sase", "hoga"])
def test_recomputed_edges_keep_less_for_backward(space, tmp_path):
    """With --recompute, a forward keeps less than the default emission (every intermediate
    kept, but moments(), channel_norm_l2() and gated_sum() already keep only their inputs):
    at C=32, 16x16, SASE 0.89 of it (0.72 before those last two), HOGA 0.24."""
    point = {"C": 32, "H": 16, "W": 16}
    x = torch.randn(4, point["C"], point["H"], point["W"], dtype=torch.float64)
    kept, _ = load_generated(space)
    lean = saved_bytes(build(recomputing_supernet(space, tmp_path), space, point, "cpu")[0], x)
    full = saved_bytes(build(kept, space, point, "cpu")[0], x)
    assert lean < {"sase": 0.93, "hoga": 0.5}[space] * full, (lean, full)
