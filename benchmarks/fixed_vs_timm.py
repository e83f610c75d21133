"""Forward latency of the generated classic blocks (SE, CBAM, ECA) against timm's modules.

    python benchmarks/fixed_vs_timm.py [--rounds 100]

`generated/classic/fixed.py` is loaded as a standalone file (it imports only torch). Each pair is
built with the same widths (SE: timm's rd_channels = C // 16; CBAM: timm's round(C / 16), equal
to C // 16 here; ECA: kernel 3) and the same weights, in eval mode under `torch.no_grad()`, with
2 threads. A round times one call of each, alternating which runs first, so that a change in
machine load hits both alike; the table gives the medians over the rounds (a quarter as many
for the ImageNet-sized input) and the ratio ours / timm (target: 1.05 or less).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch
from timm.layers import EcaModule, SEModule
from timm.layers.cbam import CbamModule
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
SHAPES = {"CIFAR": (64, 16, 32, 32), "ImageNet": (8, 256, 56, 56)}


def load_fixed(path: Path):
    spec = importlib.util.spec_from_file_location("classic_fixed", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def pairs(fixed, c: int, h: int, w: int) -> dict[str, tuple[nn.Module, nn.Module]]:
    def ours(genotype: str) -> nn.Module:
        return fixed.build_fixed(fixed.GENOTYPES[genotype], c, h, w)

    se, cbam, eca = ours("se"), ours("cbam"), ours("eca")
    timm_se = SEModule(c, rd_channels=c // 16)
    timm_se.load_state_dict(
        {
            "fc1.weight": se.y.fc.hidden_conv2d.weight,
            "fc1.bias": se.y.fc.hidden_conv2d.bias,
            "fc2.weight": se.y.fc.conv2d.weight,
            "fc2.bias": se.y.fc.conv2d.bias,
        }
    )
    timm_cbam = CbamModule(c)
    timm_cbam.channel.fc1.weight.data.copy_(cbam.y.mlp.hidden_conv2d.weight)
    timm_cbam.channel.fc2.weight.data.copy_(cbam.y.mlp.conv2d.weight)
    timm_cbam.spatial.conv.conv.weight.data.copy_(cbam.y.conv2d.weight)
    timm_eca = EcaModule(kernel_size=3)
    timm_eca.conv.weight.data.copy_(eca.y.conv1d.conv.weight)
    return {
        "SE": (se.eval(), timm_se.eval()),
        "CBAM": (cbam.eval(), timm_cbam.eval()),
        "ECA": (eca.eval(), timm_eca.eval()),
    }


def time_call(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def compare(ours: nn.Module, theirs: nn.Module, x: torch.Tensor, rounds: int):
    with torch.no_grad():
        torch.testing.assert_close(ours(x), theirs(x), rtol=1e-5, atol=1e-5)
        for _ in range(3):  # warm up allocator and kernels
            ours(x), theirs(x)
        mine, timm_times = [], []
        for r in range(rounds):
            order = ((ours, mine), (theirs, timm_times))
            for module, sink in order if r % 2 == 0 else order[::-1]:
                sink.append(time_call(lambda m=module: m(x)))
    return statistics.median(mine), statistics.median(timm_times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=100)
    args = parser.parse_args()
    torch.set_num_threads(2)
    torch.manual_seed(0)
    fixed = load_fixed(ROOT / "generated" / "classic" / "fixed.py")
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, eval, no_grad, medians "
        f"of alternating rounds; load average {load} on {os.cpu_count()} cores\n"
    )
    header = f"{'block':<6} {'input':<10} {'shape':<18} {'ours ms':>9} {'timm ms':>9} {'ratio':>7}"
    print(header)
    print("-" * len(header))
    worst = 0.0
    for label, (b, c, h, w) in SHAPES.items():
        x = torch.randn(b, c, h, w)
        rounds = args.rounds if label == "CIFAR" else max(5, args.rounds // 4)
        for name, (ours, theirs) in pairs(fixed, c, h, w).items():
            mine, timm_time = compare(ours, theirs, x, rounds)
            ratio = mine / timm_time
            worst = max(worst, ratio)
            shape = "x".join(map(str, (b, c, h, w)))
            print(
                f"{name:<6} {label:<10} {shape:<18} {mine * 1e3:9.3f} {timm_time * 1e3:9.3f} "
                f"{ratio:7.3f}"
            )
    print(f"\nworst ratio {worst:.3f} (target <= 1.05)")


if __name__ == "__main__":
    main()
