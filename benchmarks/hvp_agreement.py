"""Agreement of the finite-difference and the exact (double-backward) Hessian-vector product.

    python benchmarks/hvp_agreement.py [generated/sase generated/hoga ...] [--size 16] [--batch 8]

For each generated space: a small search network (CIFAR ResNet-20 of width 16 with the space's
SupernetBlock at every insertion point, batch 8 of synthetic 3 x size x size input, float64,
train mode so BN uses batch statistics), the second-order product of DARTS,

    H v = grad^2_{alpha, w} L_train(w, alpha) . v,

with v = grad_w L_val(w, alpha) (the direction the second-order step uses, up to the unrolling),
computed by double backward (`hvp_exact`) and by central differences (`hvp_finite`, step
eps = fd_eps / ||v||) for several fd_eps. Printed per space and fd_eps: the cosine similarity of
the two products (all alphas flattened into one vector) and the relative error
||H v_finite - H v_exact|| / ||H v_exact||. The "exact" column says whether a full second-order
architecture step with hvp='exact' runs on the space (no op refuses double backward).

DARTS' default is fd_eps = 0.01. Differences at small fd_eps are limited by float64 round-off
(about 1e-16 / eps relative); at large fd_eps by curvature and by the kinks of max pooling and
ReLU, which a finite step crosses and an exact derivative does not see.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sedsl.search.architect import Architect, hvp_exact, hvp_finite  # noqa: E402
from sedsl.search.errors import SearchError  # noqa: E402
from sedsl.search.network import build_search_network  # noqa: E402
from sedsl.search.space import load_space  # noqa: E402

DEFAULT_SPACES = ("generated/sase", "generated/hoga", "generated/classic")
FD_EPS = (1e-2, 1e-4, 1e-6)


def flat(tensors) -> torch.Tensor:
    return torch.cat([t.reshape(-1) for t in tensors])


def make_architect(space_dir: str, size: int, width: int, hvp: str, seed: int = 0):
    torch.manual_seed(seed)
    net = build_search_network(load_space(ROOT / space_dir), input_size=(size, size), width=width)
    net = net.double().train()
    w_opt = torch.optim.SGD(net.weight_parameters(), 0.025, momentum=0.9, weight_decay=5e-4)
    a_opt = torch.optim.Adam(net.arch_parameters(), 3e-4, betas=(0.5, 0.999))
    return Architect(net, net.weight_names(), net.arch_names(), w_opt, a_opt, order=2, hvp=hvp), net


def batches(batch: int, size: int):
    generator = torch.Generator().manual_seed(1)

    def one():
        x = torch.randn(batch, 3, size, size, generator=generator, dtype=torch.float64)
        return x, torch.randint(0, 10, (batch,), generator=generator)

    return one(), one()


def agreement(space_dir: str, size: int, width: int, batch: int) -> dict:
    architect, net = make_architect(space_dir, size, width, "exact")
    train, val = batches(batch, size)
    weights, arch = architect.weights(), architect.arch()
    _, val_loss = architect.loss(weights, arch, val)
    v = [g.detach() for g in torch.autograd.grad(val_loss, list(weights.values()))]
    exact = flat(hvp_exact(architect, weights, arch, train, v)).detach()
    rows = {}
    for fd_eps in FD_EPS:
        finite = flat(hvp_finite(architect, weights, arch, train, v, fd_eps)).detach()
        cosine = torch.nn.functional.cosine_similarity(finite, exact, dim=0).item()
        rel = ((finite - exact).norm() / exact.norm()).item()
        rows[fd_eps] = (cosine, rel)
    return {"rows": rows, "norm": exact.norm().item(), "n_alpha": exact.numel()}


def exact_step_works(space_dir: str, size: int, width: int, batch: int) -> str:
    architect, _ = make_architect(space_dir, size, width, "exact")
    train, val = batches(batch, size)
    try:
        architect.step(train, val)
    except SearchError as err:
        return f"refused: {err}"
    return "yes"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spaces", nargs="*", default=list(DEFAULT_SPACES))
    parser.add_argument("--size", type=int, default=16, help="input height = width")
    parser.add_argument("--width", type=int, default=16, help="ResNet-20 base width")
    parser.add_argument("--batch", type=int, default=8)
    args = parser.parse_args()
    torch.set_num_threads(2)
    print(
        f"ResNet-20 width {args.width}, batch {args.batch} x 3 x {args.size} x {args.size}, "
        "float64, train mode; v = grad_w L_val; eps = fd_eps / ||v||\n"
    )
    header = f"{'space':<10} {'#alpha':>6} {'||Hv||':>9} {'exact':>6} " + " ".join(
        f"{'cos@' + format(e, 'g'):>10} {'relerr@' + format(e, 'g'):>12}" for e in FD_EPS
    )
    print(header)
    print("-" * len(header))
    for space_dir in args.spaces:
        result = agreement(space_dir, args.size, args.width, args.batch)
        works = exact_step_works(space_dir, args.size, args.width, args.batch)
        cells = " ".join(f"{c:10.6f} {r:12.2e}" for c, r in result["rows"].values())
        name = Path(space_dir).name
        print(
            f"{name:<10} {result['n_alpha']:>6} {result['norm']:9.2e} "
            f"{'yes' if works == 'yes' else 'NO':>6} {cells}"
        )
        if works != "yes":
            print(f"    {works}")


if __name__ == "__main__":
    main()
