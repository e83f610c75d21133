"""`sase_code`'s supernet block against the official search block (`Attention` of
resnet_SASE.py, transcribed in tests/fidelity/official_sase.py), at every `check` point:
the official block's random weights and BN statistics copied into sedsl's candidates, its
alpha matrix (N(0, 1), so the mixtures are far from uniform) copied into sedsl's alphas
with rows and columns permuted to sedsl's edge and candidate order, float64, batch 2, train
then eval mode. Output, input gradient and alpha gradient agree to 1e-10.

The one setting made neutral is docs/deviations.md's: sedsl's combining BN is affine (as
the code's fixed modules are), the code's search block's is not, so sedsl's is set to
scale 1, shift 0. The same test with `sase` (the paper variant) shows that it is the
official block minus its residual x, with the concat order swapped, once FC's weight is 0.
"""

from __future__ import annotations

import zlib

import pytest
import torch
from torch import Tensor

from tests.codegen.helpers import load_generated, manifest
from tests.fidelity import official_sase as official
from tests.fidelity.helpers import BATCH, copy_in_order, parameter_count, randomise

# sedsl's edge -> the code's alpha row; the code's edge 3 squeezes the gated input (s_sp2)
CODE_ROW = {"s_ch": 0, "e_ch1": 1, "e_ch2": 2, "s_sp2": 3, "s_sp1": 4, "e_sp": 5}
TOL = {"rtol": 1e-10, "atol": 1e-10}


def points(space: str) -> list[tuple[int, int, int]]:
    groups = manifest(space)["points"].values()
    return [(p["C"], p["H"], p["W"]) for group in groups for p in group]


def column(space: str, edge: str, label: str) -> int:
    opset = next(e["opset"] for e in manifest(space)["edges"] if e["name"] == edge)
    key = official.CODE_KEY[opset][label]
    return list(official.EDGE_TABLES[CODE_ROW[edge]]).index(key)


def build(space: str, c: int, h: int, w: int, seed: int):
    """(sedsl block, its alphas, the official block, the official alpha matrix), equal."""
    supernet, _ = load_generated(space)
    theirs = randomise(official.SearchBlock(c, h, w).double(), seed)
    code_alphas = torch.randn(
        6, 7, generator=torch.Generator().manual_seed(seed + 1), dtype=torch.float64
    )
    alphas = supernet.Alphas().double()
    ours = supernet.SupernetBlock(c, h, w, alphas).double()
    with torch.no_grad():
        for edge, row in CODE_ROW.items():
            mixed = getattr(ours, edge)
            for i, label in enumerate(supernet.CANDIDATES[edge]):
                col = column(space, edge, label)
                copy_in_order(mixed.candidates[i], theirs.edges[row].ops[col])
                alphas.alphas[edge][i] = code_alphas[row, col]
        conv, bn, _ = theirs.mixer
        ours.combined_conv2d.weight.copy_(conv.weight)
        ours.combined_bn.running_mean.copy_(bn.running_mean)
        ours.combined_bn.running_var.copy_(bn.running_var)
        ours.combined_bn.weight.fill_(1.0)  # neutral: the code's search BN is affine=False
        ours.combined_bn.bias.zero_()
    return ours, alphas, theirs, code_alphas.requires_grad_(True)


def run_ours(block, alphas, x: Tensor, probe: Tensor):
    x = x.clone().requires_grad_(True)
    out = block(x)
    params = [alphas.alphas[edge] for edge in CODE_ROW]
    grads = torch.autograd.grad((out * probe).sum(), [x, *params])
    return out.detach(), grads[0], dict(zip(CODE_ROW, grads[1:], strict=True))


def run_theirs(block, code_alphas: Tensor, x: Tensor, probe: Tensor):
    x = x.clone().requires_grad_(True)
    out = block(x, torch.softmax(code_alphas, dim=-1))
    grad_x, grad_alphas = torch.autograd.grad((out * probe).sum(), [x, code_alphas])
    return out.detach(), grad_x, grad_alphas


@pytest.mark.parametrize("chw", points("sase_code"), ids=lambda p: "x".join(map(str, p)))
def test_sase_code_supernet_block_equals_the_official_search_block(chw):
    c, h, w = chw
    seed = zlib.crc32(f"supernet/{chw}".encode())
    ours, alphas, theirs, code_alphas = build("sase_code", c, h, w, seed)
    supernet, _ = load_generated("sase_code")
    # the same weights, plus the scale and shift of sedsl's affine combining BN
    assert parameter_count(ours) == parameter_count(theirs) + 2
    generator = torch.Generator().manual_seed(seed + 2)
    x = torch.randn(BATCH, c, h, w, generator=generator, dtype=torch.float64)
    probe = torch.randn(BATCH, c, h, w, generator=generator, dtype=torch.float64)
    for mode in ("train", "eval"):
        ours.train(mode == "train")
        theirs.train(mode == "train")
        out, grad_x, grad_alphas = run_ours(ours, alphas, x, probe)
        ref_out, ref_grad_x, ref_grad_alphas = run_theirs(theirs, code_alphas, x, probe)
        torch.testing.assert_close(out, ref_out, **TOL, msg=lambda m: f"{mode}: {m}")  # noqa: B023
        torch.testing.assert_close(grad_x, ref_grad_x, **TOL)
        for edge, row in CODE_ROW.items():
            cols = [column("sase_code", edge, lab) for lab in supernet.CANDIDATES[edge]]
            torch.testing.assert_close(grad_alphas[edge], ref_grad_alphas[row, cols], **TOL)


@pytest.mark.parametrize("chw", [(16, 32, 32), (1024, 14, 14)], ids=lambda p: "x".join(map(str, p)))
def test_sase_supernet_is_the_official_block_less_its_residual_once_fc_weighs_nothing(chw):
    """docs/deviations.md, the paper variant: no `+ x`, concat(s_sp1, s_sp2) (the mixer's
    two weights swap), and FC with a sigmoid, which no weight makes neutral; FC's alpha at
    -1e4 gives it weight exactly 0 on both sides."""
    c, h, w = chw
    seed = zlib.crc32(f"supernet-paper/{chw}".encode())
    ours, alphas, theirs, code_alphas = build("sase", c, h, w, seed)
    supernet, _ = load_generated("sase")
    with torch.no_grad():
        ours.combined_conv2d.weight.copy_(ours.combined_conv2d.weight.flip(1))
        fc = supernet.CANDIDATES["e_ch1"].index("fc")
        for edge in ("e_ch1", "e_ch2"):
            alphas.alphas[edge][fc] = -1e4
            code_alphas[CODE_ROW[edge], column("sase", edge, "fc")] = -1e4
    generator = torch.Generator().manual_seed(seed + 2)
    x = torch.randn(BATCH, c, h, w, generator=generator, dtype=torch.float64)
    for mode in ("train", "eval"):
        ours.train(mode == "train")
        theirs.train(mode == "train")
        with torch.no_grad():
            torch.testing.assert_close(
                ours(x) + x, theirs(x, torch.softmax(code_alphas, dim=-1)), **TOL
            )
