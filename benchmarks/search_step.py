"""Time one search step of a generated space against a plain ResNet-20 step, side by side.

    python benchmarks/search_step.py generated/sase [--batch 64] [--repeats 15] [--device cuda]

Steps (batch 64, 3 x 32 x 32 input, ResNet-20, 2 threads): plain training step; supernet weight
step; first-order arch step; second-order arch step with finite-difference and with exact H v; and
a full second-order search iteration (arch step + weight step). Times are medians over rounds that
alternate the kinds, as ratios to the plain step. Peak memory is the growth of the process's
peak resident set size over 3 steps, each kind in a fresh subprocess: the kernel's high-water mark
(VmHWM) is reset through /proc/self/clear_refs after the model and data are built, so import-time
peaks do not hide it; growth = VmHWM after the steps - VmRSS before. It counts activations,
gradients and optimizer state (Linux only). On CUDA, times are taken between synchronisations and
peak memory is the growth of torch.cuda.max_memory_allocated over the same 3 steps, in-process.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sedsl.search.architect import Architect  # noqa: E402
from sedsl.search.backbones import build_backbone  # noqa: E402
from sedsl.search.network import build_search_network  # noqa: E402
from sedsl.search.optim import make_sgd  # noqa: E402
from sedsl.search.space import load_space  # noqa: E402

KINDS = ("plain", "weight", "arch1", "arch2_finite", "arch2_exact", "iteration2_finite")


def make_batch(batch: int, seed: int, device: str) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    inputs = torch.randn(batch, 3, 32, 32, generator=generator)
    return inputs.to(device), torch.randint(0, 10, (batch,), generator=generator).to(device)


class Bench:
    def __init__(self, space_dir: str, batch: int, device: str = "cpu") -> None:
        torch.manual_seed(0)
        self.device = torch.device(device)
        self.train, self.val = make_batch(batch, 1, device), make_batch(batch, 2, device)
        self.plain = build_backbone("resnet20").to(device)
        # both take the optimizer `sedsl search` and `sedsl train` use (fused SGD)
        self.plain_opt = make_sgd(self.plain.parameters(), 0.025, momentum=0.9)
        self.net = build_search_network(load_space(space_dir)).to(device)
        self.w_opt = make_sgd(self.net.weight_parameters(), 0.025, momentum=0.9, weight_decay=5e-4)
        self.a_opt = torch.optim.Adam(self.net.arch_parameters(), 3e-4, betas=(0.5, 0.999))
        self.architects = {
            name: Architect(
                self.net,
                self.net.weight_names(),
                self.net.arch_names(),
                self.w_opt,
                self.a_opt,
                order=order,
                hvp=hvp,
            )
            for name, order, hvp in (
                ("arch1", 1, "finite"),
                ("arch2_finite", 2, "finite"),
                ("arch2_exact", 2, "exact"),
            )
        }

    def run(self, kind: str) -> None:
        self._step(kind)
        if self.device.type == "cuda":  # the step's kernels have finished, not just been queued
            torch.cuda.synchronize(self.device)

    def _step(self, kind: str) -> None:
        if kind == "plain":
            self._sgd_step(self.plain, list(self.plain.parameters()), self.plain_opt)
        elif kind == "weight":
            self._sgd_step(self.net, self.net.weight_parameters(), self.w_opt)
        elif kind == "iteration2_finite":
            self.architects["arch2_finite"].step(self.train, self.val)
            self._sgd_step(self.net, self.net.weight_parameters(), self.w_opt)
        else:
            self.architects[kind].step(self.train, self.val)

    def _sgd_step(self, model, params, optimizer) -> None:
        inputs, targets = self.train
        loss = F.cross_entropy(model(inputs), targets)
        grads = torch.autograd.grad(loss, params)
        for p, g in zip(params, grads, strict=True):
            p.grad = g
        optimizer.step()


def time_all(
    space_dir: str, batch: int, repeats: int, device: str, kinds: tuple[str, ...] = KINDS
) -> dict[str, float]:
    bench = Bench(space_dir, batch, device)
    for kind in kinds:  # warm up every path once
        bench.run(kind)
    times: dict[str, list[float]] = {kind: [] for kind in kinds}
    for _ in range(repeats):
        for kind in kinds:  # alternate, so drift hits every kind alike
            start = time.perf_counter()
            bench.run(kind)
            times[kind].append(time.perf_counter() - start)
    return {kind: statistics.median(values) for kind, values in times.items()}


def peak_memory_mib(space_dir: str, batch: int, kind: str, device: str) -> float:
    """Peak RSS growth (CUDA: allocated-memory growth) over 3 steps of ``kind``, in MiB."""
    if device.startswith("cuda"):
        bench = Bench(space_dir, batch, device)
        torch.cuda.synchronize(bench.device)
        before = torch.cuda.memory_allocated(bench.device)
        torch.cuda.reset_peak_memory_stats(bench.device)
        for _ in range(3):
            bench.run(kind)
        growth = torch.cuda.max_memory_allocated(bench.device) - before
        del bench
        torch.cuda.empty_cache()
        return growth / 2**20
    code = (
        "import sys; sys.argv = sys.argv[:1];"
        f"sys.path.insert(0, {str(Path(__file__).resolve().parent)!r});"
        "import search_step as s, torch; torch.set_num_threads(2);"
        f"b = s.Bench({space_dir!r}, {batch});"
        "status = lambda key: int(next(l for l in open('/proc/self/status') if l.startswith(key))"
        ".split()[1]);"
        "open('/proc/self/clear_refs', 'w').write('5');"
        "before = status('VmRSS');"
        f"[b.run({kind!r}) for _ in range(3)];"
        "print(status('VmHWM') - before)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return int(out.stdout.strip().splitlines()[-1]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("space_dir")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--no-memory", action="store_true")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda[:N]")
    parser.add_argument(
        "--kinds", default=",".join(KINDS), help="comma-separated steps to time (plain is kept)"
    )
    args = parser.parse_args()
    kinds = tuple(k for k in KINDS if k == "plain" or k in args.kinds.split(","))
    unknown = set(args.kinds.split(",")) - set(KINDS)
    if unknown:
        parser.error(f"unknown kinds {sorted(unknown)}; choose from {', '.join(KINDS)}")
    torch.set_num_threads(2)
    medians = time_all(args.space_dir, args.batch, args.repeats, args.device, kinds)
    plain = medians["plain"]
    report = {
        "space": args.space_dir,
        "batch": args.batch,
        "device": args.device,
        "threads": torch.get_num_threads(),
        "plain_step_s": plain,
        "ratios": {kind: medians[kind] / plain for kind in kinds},
    }
    if not args.no_memory:
        memory = {
            kind: peak_memory_mib(args.space_dir, args.batch, kind, args.device) for kind in kinds
        }
        report["peak_rss_growth_mib"] = memory
        report["memory_ratios"] = {k: memory[k] / max(memory["plain"], 1e-9) for k in kinds}
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(
        f"{args.space_dir}: batch {args.batch}, {args.device}, {report['threads']} threads, "
        f"plain ResNet-20 step {plain * 1000:.1f} ms (median of {args.repeats})"
    )
    for kind in kinds:
        line = f"  {kind:<18} {medians[kind] * 1000:8.1f} ms  {report['ratios'][kind]:6.2f}x plain"
        if "memory_ratios" in report:
            line += (
                f"   peak memory +{report['peak_rss_growth_mib'][kind]:7.1f} MiB "
                f"({report['memory_ratios'][kind]:.2f}x)"
            )
        print(line)


if __name__ == "__main__":
    main()
