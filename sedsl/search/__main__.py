"""``python -m sedsl.search``: a minimal entry for torchrun, e.g.

    torchrun --nproc_per_node 2 -m sedsl.search generated/sase --dataset cifar10 --out runs/x

The full command line lives in ``sedsl search`` (sedsl/cli.py); this one exists because torchrun
starts a module, and it takes options as ``--set key=value``.
"""

from __future__ import annotations

import argparse
import sys

from .api import run_search
from .errors import SearchError
from .rundir import RunInterrupted


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sedsl.search", description=__doc__)
    parser.add_argument("space_dir")
    parser.add_argument("--dataset")
    parser.add_argument("--out")
    parser.add_argument("--config", dest="config_file")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--overwrite", action="store_true")
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--nproc", type=int, default=1)
    parser.add_argument("--max-epochs-this-run", type=int)
    args = parser.parse_args(argv)
    try:
        overrides = dict(_pair(item) for item in args.set)
        run_dir = run_search(
            args.space_dir,
            dataset=args.dataset,
            out=args.out,
            overrides=overrides,
            config_file=args.config_file,
            resume=args.resume,
            overwrite=args.overwrite,
            quiet=args.quiet,
            nproc=args.nproc,
            max_epochs_this_run=args.max_epochs_this_run,
        )
    except SearchError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except RunInterrupted as interrupted:  # says what was kept
        print(interrupted, file=sys.stderr)
        return interrupted.exit_code
    if not args.quiet:
        print(run_dir)
    return 0


def _pair(item: str) -> tuple[str, str]:
    key, sep, value = item.partition("=")
    if not sep:
        raise SearchError(f"--set expects KEY=VALUE, got {item!r}")
    return key.strip(), value.strip()


if __name__ == "__main__":
    sys.exit(main())
