"""Training-step time and peak memory of the SASE and HOGA supernets in a CIFAR ResNet-20,
as ratios to the plain ResNet-20, and the time `sedsl generate` takes for every space.

    python benchmarks/supernet_step.py [--rounds 10] [--batch 64] [--reference] [--keep]

With --reference the SASE and HOGA supernets generated with `--supernet reference` (DARTS'
MixedOp, each candidate a module call) run beside the compiled ones (the default emission,
generated/), as sase_ref and hoga_ref, so the table shows what compiling the edges gains.
With --keep the compiled ones generated with `--no-recompute` (every intermediate kept for
backward) run beside them too, as sase_keep and hoga_keep: what recomputing costs and saves.
With --profile each network's step is also counted under torch.profiler: its ATen calls, a
comparison that load does not blur as it does wall time.

Networks: He et al.'s ResNet-20 (sedsl.search.backbones, option A shortcut) with one
`SupernetBlock` after the last BN of every basic block, before the residual add, all nine blocks
sharing one `Alphas` (so the architecture parameters are not in the SGD step). A step is
forward + cross-entropy + backward + SGD (lr 0.025, momentum 0.9, wd 5e-4) on a 64 x 3 x 32 x 32
batch, 2 threads. Rounds rotate the order of plain / SASE / HOGA so load changes hit all alike;
times are medians over the rounds.

Peak memory: each network runs in a fresh subprocess, which reports its current resident set
size (VmRSS in /proc/self/status) after building the network and batch, and its peak resident set
size after three steps. The peak is VmHWM from /proc/self/status, the high-water mark that
getrusage's ru_maxrss is made of, read per process image because a child's ru_maxrss starts at
its parent's size when it was forked. "growth" is peak minus the resident size before the steps,
i.e. what the steps add (activations, gradients, momentum buffers); the last column divides it by
the plain network's growth.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sedsl.search.backbones import build_backbone, count_parameters  # noqa: E402

CONFIGS = ("plain", "sase", "hoga")
REFERENCE_CONFIGS = ("sase_ref", "hoga_ref")
KEEP_CONFIGS = ("sase_keep", "hoga_keep")
# variant suffix -> (where it is generated, the `sedsl generate` options that make it)
VARIANTS = {
    "_ref": (Path(tempfile.gettempdir()) / "sedsl_bench_reference", ["--supernet", "reference"]),
    "_keep": (Path(tempfile.gettempdir()) / "sedsl_bench_keep", ["--no-recompute"]),
}


def generate_variant(suffix: str) -> None:
    """generated/ again for SASE and HOGA, with the variant's options, into its directory."""
    out, options = VARIANTS[suffix]
    spaces = [str(ROOT / "spaces" / f"{name}.space") for name in ("sase", "hoga")]
    subprocess.run(
        [sys.executable, "-m", "sedsl.cli", "generate", *options, *spaces, "-o", str(out)],
        cwd=ROOT,
        capture_output=True,
        check=True,
    )


def load_supernet(config: str):
    space, _, suffix = config.partition("_")
    base = VARIANTS[f"_{suffix}"][0] if suffix else ROOT / "generated"
    root = base / space
    package = f"_bench_{config}"
    spec = importlib.util.spec_from_file_location(
        package, root / "__init__.py", submodule_search_locations=[str(root)]
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[package] = module
    spec.loader.exec_module(module)
    return importlib.import_module(f"{package}.supernet")


def build(config: str) -> nn.Module:
    torch.manual_seed(0)
    if config == "plain":
        return build_backbone("resnet20")
    supernet = load_supernet(config)
    alphas = supernet.Alphas()

    def factory(c: int, h: int, w: int) -> nn.Module:
        return supernet.SupernetBlock(c, h, w, alphas)

    net = build_backbone("resnet20", factory)
    net.alphas = alphas  # registered once, so it is saved with the network; not in the step
    return net


class Stepper:
    def __init__(self, config: str, batch: int) -> None:
        self.net = build(config).train()
        weights = [p for n, p in self.net.named_parameters() if not n.startswith("alphas.")]
        self.optimizer = torch.optim.SGD(weights, lr=0.025, momentum=0.9, weight_decay=5e-4)
        generator = torch.Generator().manual_seed(1)
        self.x = torch.randn(batch, 3, 32, 32, generator=generator)
        self.y = torch.randint(0, 10, (batch,), generator=generator)
        self.weights = sum(p.numel() for p in weights)

    def step(self) -> float:
        start = time.perf_counter()
        self.optimizer.zero_grad(set_to_none=True)
        F.cross_entropy(self.net(self.x), self.y).backward()
        self.optimizer.step()
        return time.perf_counter() - start


def status_mib(field: str) -> float:
    """VmRSS (now) or VmHWM (peak) of this process image, in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024  # kB
    raise RuntimeError(f"no {field} in /proc/self/status")


def child(config: str, batch: int) -> None:
    torch.set_num_threads(2)
    stepper = Stepper(config, batch)
    before = status_mib("VmRSS")
    for _ in range(3):
        stepper.step()
    print(json.dumps({"before": before, "peak": status_mib("VmHWM")}))


def memory(config: str, batch: int) -> dict[str, float]:
    result = subprocess.run(
        [sys.executable, __file__, "--child", config, "--batch", str(batch)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def print_profile(steppers: dict[str, Stepper]) -> None:
    """ATen calls of one step of each network (load-independent, unlike its time; the
    profiler's CPU self-times were not trustworthy with several networks in one process)."""
    from torch.profiler import ProfilerActivity, profile

    print(f"\n{'network':<10} {'ATen calls':>11} {'x plain':>8}")
    base = None
    for config, stepper in steppers.items():
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            stepper.step()
        calls = sum(e.count for e in prof.key_averages() if e.key.startswith("aten::"))
        base = base or calls
        print(f"{config:<10} {calls:>11,} {calls / base:8.2f}")


def generate_times(repeats: int = 3) -> tuple[float, dict[str, float]]:
    """Wall time of the CLI generating every space (a subprocess, as a user runs it), and the
    in-process time of checking + rendering each space."""
    from sedsl.check.checker import check_file
    from sedsl.codegen.generate import render_space

    spaces = sorted((ROOT / "spaces").glob("*.space"))
    cli = []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as out:
            start = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "sedsl.cli", "generate", *map(str, spaces), "-o", out],
                cwd=ROOT,
                capture_output=True,
                check=True,
            )
            cli.append(time.perf_counter() - start)
    per_space = {}
    for path in spaces:
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            render_space(check_file(path).space)
            times.append(time.perf_counter() - start)
        per_space[path.stem] = statistics.median(times)
    return statistics.median(cli), per_space


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument(
        "--reference", action="store_true", help="also time the reference (MixedOp) supernets"
    )
    parser.add_argument(
        "--keep", action="store_true", help="also time the compiled supernets without recompute"
    )
    parser.add_argument(
        "--profile", action="store_true", help="also count the ATen calls of a step"
    )
    parser.add_argument("--skip-generate", action="store_true", help="skip timing generate")
    parser.add_argument(
        "--child", choices=CONFIGS + REFERENCE_CONFIGS + KEEP_CONFIGS, help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.child:
        child(args.child, args.batch)
        return

    torch.set_num_threads(2)
    configs = CONFIGS + (REFERENCE_CONFIGS if args.reference else ())
    configs += KEEP_CONFIGS if args.keep else ()
    for suffix, wanted in (("_ref", args.reference), ("_keep", args.keep)):
        if wanted:
            generate_variant(suffix)
    mem = {config: memory(config, args.batch) for config in configs}
    growth = {config: m["peak"] - m["before"] for config, m in mem.items()}
    steppers = {config: Stepper(config, args.batch) for config in configs}
    for stepper in steppers.values():  # warm up
        stepper.step()
    times: dict[str, list[float]] = {config: [] for config in configs}
    for r in range(args.rounds):
        for i in range(len(configs)):
            config = configs[(r + i) % len(configs)]
            times[config].append(steppers[config].step())
    median = {config: statistics.median(t) for config, t in times.items()}

    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    print(
        f"ResNet-20, batch {args.batch} x 3 x 32 x 32, {torch.get_num_threads()} threads, "
        f"medians of {args.rounds} rotating rounds; load average {load} on {os.cpu_count()} cores"
    )
    print("step = forward + cross-entropy + backward + SGD; memory = VmHWM, fresh process\n")
    header = (
        f"{'network':<8} {'weights':>9} {'step ms':>9} {'x plain':>8} "
        f"{'peak MiB':>9} {'growth MiB':>11} {'x plain':>8}"
    )
    print(header)
    print("-" * len(header))
    for config in configs:
        weights = count_parameters(steppers[config].net) - sum(
            p.numel() for n, p in steppers[config].net.named_parameters() if n.startswith("alphas.")
        )
        print(
            f"{config:<8} {weights:>9,} {median[config] * 1e3:9.1f} "
            f"{median[config] / median['plain']:8.2f} {mem[config]['peak']:9.0f} "
            f"{growth[config]:11.0f} {growth[config] / growth['plain']:8.2f}"
        )
    if args.profile:
        print_profile(steppers)

    if args.skip_generate:
        return
    cli, per_space = generate_times()
    print(f"\nsedsl generate spaces/*.space ({len(per_space)} spaces), CLI wall time: {cli:.2f} s")
    print(
        "check + render in process: "
        + ", ".join(f"{name} {seconds * 1e3:.0f} ms" for name, seconds in per_space.items())
    )


if __name__ == "__main__":
    main()
