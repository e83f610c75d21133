"""One function per command; the CLI parses flags, calls one of these and prints SearchError."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from . import checkpoint as ckpt
from . import outputs, rundir
from .distributed import DistContext, context_from_env, shutdown, spawn
from .errors import SearchError
from .loop import EpochHook, Search
from .recipe import SearchConfig, config_to_dict, resolve_config
from .space import load_space


def resolve_search_config(
    space_dir: str | Path,
    *,
    dataset: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    config_file: str | Path | None = None,
) -> SearchConfig:
    """The configuration ``run_search`` would use (for ``--dry-run`` style printing)."""
    space = load_space(space_dir)
    layers = dict(overrides or {})
    if dataset is not None:
        layers["dataset"] = dataset
    return resolve_config(space.name, space.recipe, config_file=config_file, overrides=layers)


def run_search(
    space_dir: str | Path,
    *,
    dataset: str | None = None,
    out: str | Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    config_file: str | Path | None = None,
    resume: bool = False,
    overwrite: bool = False,
    quiet: bool = False,
    nproc: int = 1,
    max_epochs_this_run: int | None = None,
    on_epoch_end: EpochHook | None = None,
) -> Path:
    """Run (or resume) a DARTS search of a generated space; returns the run directory.

    ``overrides`` are SearchConfig fields (None values are ignored, so CLI flags can pass
    through unset). ``nproc > 1`` spawns that many gloo processes; under torchrun the process
    group comes from the environment. Writes config.json, metrics.csv, alphas.jsonl, alphas.png,
    genotype.json and checkpoint.pt into the run directory. A run that fails or is interrupted
    before its first checkpoint leaves nothing behind; an interrupted one raises
    ``rundir.RunInterrupted``, which says what was kept (see ``sedsl.search.rundir``).
    """
    config = resolve_search_config(
        space_dir, dataset=dataset, overrides=overrides, config_file=config_file
    )
    space = load_space(space_dir)
    run_dir = Path(out) if out is not None else default_run_dir(space.name, config)
    if nproc < 1:
        raise SearchError(f"nproc must be at least 1, got {nproc}")
    if nproc > 1 and on_epoch_end is not None:
        raise SearchError("on_epoch_end hooks run in one process only; use nproc=1")
    # under torchrun every rank checks the folder and only rank 0 writes to it
    is_main = os.environ.get("RANK", "0") == "0"
    rundir.prepare(run_dir, SEARCH_FILES, resume=resume, overwrite=overwrite, clear=is_main)

    def action() -> Path:
        if nproc > 1:
            args = (str(space_dir), config, str(run_dir), resume, quiet, max_epochs_this_run)
            spawn(nproc, _search_worker, *args)
            return run_dir
        context = context_from_env()
        try:
            return _search(
                space_dir,
                config,
                run_dir,
                context,
                resume,
                quiet,
                max_epochs_this_run,
                on_epoch_end,
            )
        finally:
            shutdown(context)

    return rundir.guarded(run_dir, SEARCH_FILES, action) if is_main else action()


SEARCH_FILES = rundir.RunFiles(
    "search",
    (
        ckpt.CHECKPOINT,
        outputs.CONFIG,
        outputs.METRICS,
        outputs.ALPHAS,
        outputs.ALPHAS_PLOT,
        outputs.GENOTYPE,
    ),
    record=outputs.GENOTYPE,
    folders=("tensorboard",),
)


def default_run_dir(space_name: str, config: SearchConfig) -> Path:
    dataset = config.dataset.split(":", 1)[0]
    return Path("runs") / f"{space_name}-{dataset}-seed{config.seed}"


def _search_worker(
    space_dir: str,
    config: SearchConfig,
    run_dir: str,
    resume: bool,
    quiet: bool,
    max_epochs_this_run: int | None,
) -> None:
    with rundir.signals_handled():  # each rank writes its checkpoint step uninterrupted
        _search(
            space_dir,
            config,
            Path(run_dir),
            context_from_env(),
            resume,
            quiet,
            max_epochs_this_run,
            None,
        )


def _search(
    space_dir: str | Path,
    config: SearchConfig,
    run_dir: Path,
    context: DistContext,
    resume: bool,
    quiet: bool,
    max_epochs_this_run: int | None,
    on_epoch_end: EpochHook | None,
) -> Path:
    space = load_space(space_dir)
    search = Search(space, config, run_dir, context=context, quiet=quiet)
    if resume:
        search.resume()
    if context.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)  # once the data and the network are ready
        outputs.write_json(run_dir / outputs.CONFIG, config_to_dict(config))
    return search.run(max_epochs_this_run=max_epochs_this_run, on_epoch_end=on_epoch_end)
