"""The `sedsl` command line. Thin: parse arguments, call one function, render.

Exit codes: 0 clean (warnings allowed), 1 errors found, 2 usage or I/O error, 3 internal
error (a bug in sedsl: `check`, `fmt`, `explain` and `generate` report it as an E900
diagnostic on the file, never a traceback). Heavy imports (torch) happen inside the commands
that need them, so `check` and `fmt` start fast.
"""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path

import click

from sedsl.check.command import EXIT_ERRORS, EXIT_OK, EXIT_USAGE, parse_overrides, run_check
from sedsl.check.internal import EXIT_INTERNAL, internal_error
from sedsl.diagnostics.codes import Code
from sedsl.options import (  # noqa: F401 (the backbone names are part of the CLI's surface)
    COST_BACKBONES,
    SE_BACKBONES,
    SEARCH_BACKBONES,
    NameChoice,
    text_or_json,
)


class DatasetType(click.ParamType):
    """A dataset: a fixed name, or a family with its argument after `:`."""

    name = "dataset"
    METAVAR = "[cifar10|cifar100|digits|synthetic[:K=V,...]|imagefolder:PATH]"

    def get_metavar(self, *args, **kwargs) -> str:
        return self.METAVAR

    def convert(self, value, param, ctx):
        kind, sep, argument = str(value).partition(":")
        if (kind in ("cifar10", "cifar100", "digits") and not sep) or kind == "synthetic":
            return value
        if kind == "imagefolder" and argument:
            return value
        hint = "imagefolder needs a path: imagefolder:PATH" if kind == "imagefolder" else ""
        self.fail(
            hint
            or f"{value!r} is not one of cifar10, cifar100, digits, synthetic[:K=V,...], "
            "imagefolder:PATH.",
            param,
            ctx,
        )

    def shell_complete(self, ctx, param, incomplete):
        from click.shell_completion import CompletionItem

        names = ("cifar10", "cifar100", "digits", "synthetic", "imagefolder:")
        return [CompletionItem(n) for n in names if n.startswith(incomplete)]


class DeviceType(click.ParamType):
    """auto, cpu, cuda, cuda:N or mps."""

    name = "device"

    def get_metavar(self, *args, **kwargs) -> str:
        return "[auto|cpu|cuda|cuda:N|mps]"

    def convert(self, value, param, ctx):
        kind, sep, index = str(value).partition(":")
        if value in ("auto", "cpu", "cuda", "mps") or (kind == "cuda" and index.isdigit()):
            return value
        self.fail(f"{value!r} is not one of auto, cpu, cuda, cuda:N, mps.", param, ctx)


# ---- colour -------------------------------------------------------------------------------


def _colour_from_env() -> bool | None:
    """https://no-color.org and https://force-color.org: set and not empty."""
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return None


def _set_colour(ctx: click.Context, param, value: bool | None) -> None:
    """--color / --no-color, else NO_COLOR / FORCE_COLOR, else a terminal decides. The
    decision reaches click.echo (ctx.color) and rich (its FORCE_COLOR and NO_COLOR, read
    here and in the processes a run spawns)."""
    if value is None and ctx.color is None:
        value = _colour_from_env()
    if value is None:
        return
    ctx.color = value
    if value:
        os.environ["FORCE_COLOR"] = "1"
        os.environ.pop("NO_COLOR", None)
        if not sys.stdout.isatty():  # colour into a pipe, but no live redrawing there
            os.environ.setdefault("TTY_INTERACTIVE", "0")
    else:
        os.environ["NO_COLOR"] = "1"
        os.environ.pop("FORCE_COLOR", None)


def _colour_option() -> click.Option:
    return click.Option(
        ["--color/--no-color"],
        default=None,
        expose_value=False,
        callback=_set_colour,
        help="colour on or off, into a pipe too  [default: on a terminal, off when NO_COLOR "
        "is set]",
    )


def _colour(err: bool = False) -> bool:
    """Whether to colour what goes to stdout (or stderr)."""
    ctx = click.get_current_context(silent=True)
    if ctx is not None and ctx.color is not None:
        return ctx.color
    return (sys.stderr if err else sys.stdout).isatty()


def _parse_sets(values: tuple[str, ...]) -> dict[str, int | float]:
    try:
        return parse_overrides(values)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--set") from None


def _no_traceback(command):
    """The last line of defence of a language command: an exception that escapes the
    per-file handling (in rendering, say) is an internal error too, exit 3. Click's own
    usage errors and sys.exit pass through."""

    @functools.wraps(command)
    def guarded(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:
            files = kwargs.get("files") or (kwargs.get("code", ""),)
            from sedsl.check.render import render_concise

            doing = f"running `sedsl {command.__name__}` on"
            diag = internal_error(", ".join(str(f) for f in files), exc, doing)
            click.echo(render_concise([diag]), err=True, nl=False)
            sys.exit(EXIT_INTERNAL)

    return guarded


@click.group(context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.version_option(package_name="sedsl")
def main() -> None:
    """sedsl: write an attention search space, check it, generate PyTorch, search it."""


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "concise", "json"]),
    default="text",
    help="text (rustc style), concise (one line each) or json.",
)
@click.option(
    "--set",
    "sets",
    multiple=True,
    metavar="NAME=VALUE",
    help="override a parameter's default, e.g. --set K=2.",
)
@_no_traceback
def check(files: tuple[Path, ...], fmt: str, sets: tuple[str, ...]) -> None:
    """Check .space files: syntax, names, every candidate's shapes at every point."""
    # the console script may run run_check without click (sedsl/check/command.py)
    sys.exit(run_check(list(files), fmt, _parse_sets(sets), _colour(), click.echo))


def _extern_notes(space) -> list[str]:
    """A note per extern op whose top-level package is not importable here. Only looked up,
    never imported: generating does not run user code, and the block is often built on
    another machine; the generated block says exactly what is missing when it is built."""
    from importlib.util import find_spec

    notes = []
    for op in space.ops:
        if op.extern is None:
            continue
        top = op.extern.module.split(".")[0]
        try:
            found = find_spec(top) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            notes.append(
                f'extern op `{op.name}` imports "{op.extern.target}", but `{top}` is not '
                "importable here; the generated block imports it when it is built"
            )
    return notes


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    default=Path("generated"),
    show_default=True,
    help="directory that receives generated/<space>/.",
)
@click.option(
    "--check",
    "check_only",
    is_flag=True,
    help="write nothing; exit 1 and name the stale files if output would differ.",
)
@click.option(
    "--set", "sets", multiple=True, metavar="NAME=VALUE", help="override a parameter's default."
)
@click.option(
    "--supernet",
    type=click.Choice(["compiled", "reference"]),
    default="compiled",
    show_default=True,
    help="how supernet.py runs a searched edge: `compiled` inlines all candidates into one "
    "program (shared statistics, stacked convolutions); `reference` calls each candidate "
    "module as DARTS' MixedOp does. Proved equal; ops.py, fixed.py and space.json are the same.",
)
@click.option(
    "--recompute/--no-recompute",
    default=False,
    show_default=True,
    help="compiled edges on full feature maps recompute their candidates in backward instead "
    "of keeping their intermediates (torch.utils.checkpoint): a third less step memory for "
    "SASE and HOGA, a fifth to a third more step time.",
)
@_no_traceback
def generate(
    files: tuple[Path, ...],
    out_dir: Path,
    check_only: bool,
    sets: tuple[str, ...],
    supernet: str,
    recompute: bool,
) -> None:
    """Generate PyTorch (ops, supernet, fixed modules, manifest) from .space files."""
    from sedsl.check.render import render_text, sources_of

    overrides = _parse_sets(sets)
    if out_dir.exists() and not out_dir.is_dir():
        click.echo(f"error: -o {out_dir} is a file; give a folder to generate into", err=True)
        sys.exit(EXIT_USAGE)
    status = EXIT_OK
    for path in files:
        try:
            emission = (supernet, recompute)
            status = max(status, _generate_one(path, overrides, out_dir, check_only, emission))
        except Exception as exc:  # a bug in sedsl: an E900 on this file, the others go on
            diag = internal_error(str(path), exc, "generating")
            click.echo(render_text([diag], sources_of([diag]), _colour(True)), err=True)
            status = max(status, EXIT_INTERNAL)
    if check_only and status == EXIT_OK:
        click.echo("generated/ is up to date")
    sys.exit(status)


def _generate_one(
    path: Path, overrides: dict, out_dir: Path, check_only: bool, emission: tuple[str, bool]
) -> int:
    """One file of `sedsl generate`; its exit status."""
    from sedsl.check.checker import check_file
    from sedsl.check.render import render_text, sources_of
    from sedsl.codegen.generate import GenerateError, render_space, stale_files, write_space
    from sedsl.reasons import reason

    report = check_file(path, overrides, display=str(path))
    diags = report.diagnostics.sorted()
    if not report.ok or report.space is None or report.space.block is None:
        if diags:
            click.echo(render_text(diags, sources_of(diags), _colour(True)), err=True)
        if report.space is not None and report.space.block is None and report.ok:
            click.echo(f"{path}: a library (no block); nothing to generate", err=True)
            return EXIT_OK
        return EXIT_USAGE if any(d.code == Code.CANNOT_READ for d in diags) else EXIT_ERRORS
    try:
        files_text = render_space(report.space, *emission)
        target = out_dir / report.space.name
        if check_only:
            stale = stale_files(files_text, target)
            for line in stale:
                click.echo(f"stale: {line}")
            return EXIT_ERRORS if stale else EXIT_OK
        written = write_space(files_text, out_dir, report.space.name)
        click.echo(f"{path} -> {written}/")
        for line in _extern_notes(report.space):
            click.echo(f"{path}: note: {line}", err=True)
    except GenerateError as exc:
        click.echo(f"error: {exc}", err=True)
        return EXIT_USAGE
    except OSError as exc:
        where = exc.filename or out_dir
        click.echo(f"error: cannot write {where}: {reason(exc)}", err=True)
        return EXIT_USAGE
    return EXIT_OK


@main.command()
@click.argument("code")
@_no_traceback
def explain(code: str) -> None:
    """Explain a diagnostic code at length, as in `sedsl explain E020`."""
    from sedsl.check.codes import CODES
    from sedsl.check.codes import explain as explain_code

    text = explain_code(code)
    if text is None:
        click.echo(f"error: unknown code `{code}`; known codes: {', '.join(CODES)}", err=True)
        sys.exit(EXIT_USAGE)
    click.echo(text, nl=False)


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--write", "-w", is_flag=True, help="rewrite the files in place.")
@click.option("--check", "check_only", is_flag=True, help="exit 1 if a file is not formatted.")
@_no_traceback
def fmt(files: tuple[Path, ...], write: bool, check_only: bool) -> None:
    """Print (or rewrite) .space files in canonical form, comments kept."""
    from sedsl.check.render import render_text, sources_of

    status = EXIT_OK
    for path in files:
        try:
            status = max(status, _fmt_one(path, write, check_only))
        except Exception as exc:  # a bug in sedsl: an E900 on this file, the others go on
            diag = internal_error(str(path), exc, "formatting")
            click.echo(render_text([diag], sources_of([diag]), _colour(True)), err=True)
            status = max(status, EXIT_INTERNAL)
    sys.exit(status)


def _fmt_one(path: Path, write: bool, check_only: bool) -> int:
    """One file of `sedsl fmt`; its exit status."""
    from sedsl.check.render import render_text, sources_of
    from sedsl.diagnostics.diagnostic import Diagnostics
    from sedsl.language.format import format_module
    from sedsl.language.parser import parse_file

    diags = Diagnostics()
    module = parse_file(path, diags, str(path))
    if diags.has_errors:
        sources = sources_of(diags.items)
        click.echo(render_text(diags.sorted(), sources, _colour(True)), err=True)
        return EXIT_USAGE if any(d.code == Code.CANNOT_READ for d in diags) else EXIT_ERRORS
    text = format_module(module)
    if check_only:
        if text != module.source:
            click.echo(f"{path}: would reformat")
            return EXIT_ERRORS
    elif write:
        if text != module.source:
            _atomic_write(path, text)
    else:
        click.echo(text, nl=False)
    return EXIT_OK


def _atomic_write(path: Path, text: str) -> None:
    import os
    import tempfile

    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)


# ---- pictures and editors -----------------------------------------------------------------


@main.command()
@click.argument("space", type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--out",
    type=click.Path(path_type=Path),
    required=True,
    help="the picture to write: .svg, .png or .pdf.",
)
@click.option(
    "--genotype",
    default=None,
    help="highlight the chosen op on each edge: a genotype declared in the space, or a "
    "genotype.json from a search.",
)
@click.option(
    "--run",
    "run_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="a search's run directory: shade each candidate by its final softmax weight.",
)
@click.option(
    "--set", "sets", multiple=True, metavar="NAME=VALUE", help="override a parameter's default."
)
def graph(space: Path, out: Path, genotype: str | None, run_dir: Path | None, sets) -> None:
    """Draw the block's DAG as the papers do: tensors, fixed ops, searched edges."""
    from sedsl.draw import DrawError, draw_space

    try:
        written = draw_space(
            space, out, genotype=genotype, run=run_dir, overrides=_parse_sets(sets)
        )
    except DrawError as exc:
        click.echo(str(exc) if exc.rendered else f"error: {exc}", err=True)
        sys.exit(exc.code)
    click.echo(f"wrote {written}")


# ---- cost -------------------------------------------------------------------------------


@main.command()
@click.argument("space_dir", type=click.Path(path_type=Path))
@click.option(
    "--genotype",
    required=True,
    help="a genotype declared in the space, or a genotype.json from a search.",
)
@click.option(
    "--backbone",
    type=NameChoice(COST_BACKBONES),
    required=True,
    help="the network, named as torchvision names it (regnety800mf is taken too).",
)
@click.option(
    "--input-size",
    type=int,
    default=None,
    help="square input side (default: 32 for CIFAR ResNets, else 224).",
)
@click.option(
    "--num-classes",
    type=int,
    default=None,
    help="classifier width (default: 10 for CIFAR ResNets, else 1000).",
)
@text_or_json
def cost(space_dir, genotype, backbone, input_size, num_classes, fmt) -> None:
    """Parameters, MACs and minimum pipeline buffer of a genotype in a backbone."""
    from sedsl.cost.report import CostError, render_json, render_text
    from sedsl.cost.report import cost as measure

    try:
        report = measure(space_dir, genotype, backbone, input_size, num_classes)
    except CostError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    click.echo(render_json(report) if fmt == "json" else render_text(report), nl=False)


# ---- search, train, export ----------------------------------------------------------

# a search option left unset comes from --config, then the space's recipe, then DARTS (and
# SearchConfig): the last column is what it is then (tests/cli checks it against recipe.py)
_SEARCH_FLAGS = [
    ("--epochs", int, "epochs of search", 50),
    ("--batch-size", int, "batch size (per step, all ranks together)", 64),
    ("--order", click.IntRange(1, 2), "1: first-order DARTS; 2: second order (unrolled)", 2),
    ("--hvp", click.Choice(["finite", "exact"]), "second order's Hessian-vector product", "finite"),
    ("--lr", float, "weight learning rate (SGD, cosine)", 0.025),
    ("--arch-lr", float, "architecture learning rate (Adam)", 3e-4),
    ("--backbone", click.Choice(SEARCH_BACKBONES), "the network the block goes into", "resnet20"),
    ("--steps-per-epoch", int, "cap the weight steps per epoch (quick runs)", None),
    ("--eval-batches", int, "batches of the architecture half scored per epoch", None),
    ("--seed", int, "random seed", 0),
    ("--device", DeviceType(), "where to run; auto: cuda when available", "auto"),
    ("--cost", click.Choice(["buffer", "macs", "params"]), "cost-aware search: the cost", None),
    ("--cost-weight", float, "weight of E[cost] / max cost in the architecture loss", 0.0),
]
_UNSET = {"--steps-per-epoch": "one pass", "--eval-batches": "all", "--cost": "off"}


def _search_options(command, skip: tuple[str, ...] = ()):
    for flag, type_, help_, default in reversed(_SEARCH_FLAGS):
        if flag not in skip:
            shown = _UNSET[flag] if default is None else default
            command = click.option(
                flag,
                type=type_,
                default=None,
                show_default=f"the space's recipe, else {shown}",
                help=help_ + ".",
            )(command)
    return command


def _data_options(command):
    """The options `search` and `sweep` share: data, a config file, quiet."""
    options = [
        click.option(
            "--dataset",
            type=DatasetType(),
            default=None,
            show_default="the space's recipe, else cifar10",
            help="the images to search on; digits and synthetic need no download.",
        ),
        click.option("--data-dir", default=None, show_default="data", help="where datasets live."),
        click.option(
            "--config",
            "config_file",
            type=click.Path(path_type=Path),
            default=None,
            help="TOML, YAML or JSON file of search settings (flags override it).",
        ),
        click.option("--quiet", "-q", is_flag=True, help="no progress output."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _run_guarded(action, kept: str = "before anything was written"):
    """User errors from search/train/export print one clear line and exit 2; an interrupt
    (SIGINT, or SIGTERM, handled alike) says what was kept and exits 128 + the signal. A
    run says itself what it kept; `kept` is for an interrupt outside one (importing, or a
    sweep between its searches)."""
    import signal

    def terminated(number, frame):
        raise KeyboardInterrupt(signal.Signals(number).name)

    signal.signal(signal.SIGTERM, terminated)  # until the run's own handlers take over
    try:
        return _run_reporting(action)
    except KeyboardInterrupt as exc:  # while importing, before the run's own handling
        name = str(exc) if str(exc) in ("SIGINT", "SIGTERM") else "SIGINT"
        click.echo(f"interrupted ({name}) {kept}", err=True)
        sys.exit(128 + getattr(signal, name))


def _run_reporting(action):
    from sedsl.search.errors import SearchError
    from sedsl.search.rundir import RunInterrupted

    try:
        return action()
    except SearchError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    except RunInterrupted as exc:
        click.echo(str(exc), err=True)
        sys.exit(exc.exit_code)


@main.command()
@click.argument("space_dir", type=click.Path(path_type=Path))
@_data_options
@click.option("--download", is_flag=True, default=None, help="download CIFAR if missing.")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    show_default="runs/SPACE-DATASET-seedSEED",
    help="run directory.",
)
@click.option("--resume", is_flag=True, help="continue the run in --out from its checkpoint.")
@click.option("--overwrite", is_flag=True, help="start over in --out, replacing the run it holds.")
@click.option(
    "--nproc",
    type=int,
    default=1,
    show_default=True,
    help="data-parallel processes (gloo on CPU, nccl on GPU).",
)
@_search_options
def search(
    space_dir,
    dataset,
    data_dir,
    download,
    out,
    config_file,
    resume,
    overwrite,
    quiet,
    nproc,
    **flags,
) -> None:
    """Run DARTS over a generated space; writes genotype.json, metrics.csv, alphas.png."""
    overrides = {k: v for k, v in flags.items() if v is not None}
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    if download:
        overrides["download"] = True

    def action():
        from sedsl.search.api import run_search

        return run_search(
            space_dir,
            dataset=dataset,
            out=out,
            overrides=overrides,
            config_file=config_file,
            resume=resume,
            overwrite=overwrite,
            quiet=quiet,
            nproc=nproc,
        )

    run_dir = _run_guarded(action)
    click.echo(f"genotype: {run_dir / 'genotype.json'}")


@main.command()
@click.argument("space_dir", type=click.Path(path_type=Path))
@click.option(
    "--cost-weight",
    "weights",
    required=True,
    help="comma-separated cost weights, one search each, e.g. 0,1e-3,1e-2.",
)
@click.option(
    "--cost-backbone",
    type=NameChoice(COST_BACKBONES),
    default="resnet20",
    show_default=True,
    help="backbone (at its standard input) in which sweep.csv prices each chosen genotype.",
)
@click.option(
    "--train-epochs",
    type=int,
    default=0,
    show_default=True,
    help="train each chosen genotype from scratch this long; 0: plot the search's accuracy.",
)
@_data_options
@click.option("--out", type=click.Path(path_type=Path), required=True, help="sweep directory.")
@click.option("--resume", is_flag=True, help="keep finished runs, continue interrupted ones.")
@click.option("--nproc", type=int, default=1, show_default=True, help="processes per search.")
@lambda command: _search_options(command, skip=("--cost-weight",))
def sweep(
    space_dir,
    weights,
    cost_backbone,
    train_epochs,
    dataset,
    data_dir,
    out,
    config_file,
    resume,
    quiet,
    nproc,
    **flags,
) -> None:
    """One cost-aware search per weight; writes sweep.csv and sweep.png (accuracy vs cost)."""
    from sedsl.search.sweep import SWEEP_CSV, SWEEP_PNG, run_sweep

    cost_kind = flags.pop("cost") or "buffer"
    overrides = {k: v for k, v in flags.items() if v is not None}
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    rows = _run_guarded(
        lambda: run_sweep(
            space_dir,
            weights,
            cost=cost_kind,
            out=out,
            dataset=dataset,
            overrides=overrides,
            config_file=config_file,
            cost_backbone=cost_backbone,
            train_epochs=train_epochs,
            resume=resume,
            quiet=quiet,
            nproc=nproc,
        ),
        kept=f"between searches; the finished ones in {out} are kept (continue with --resume)",
    )
    for row in rows:
        acc = row.search_val_acc if row.test_acc is None else row.test_acc
        click.echo(
            f"weight {row.weight:<8g} {row.genotype:<30} acc {acc:.3f}  "
            f"{cost_kind} in {row.backbone}: {_cost_text(row, cost_kind)}"
        )
    click.echo(f"wrote {out / SWEEP_CSV} and {out / SWEEP_PNG}")


def _cost_text(row, kind: str) -> str:
    if kind == "buffer":
        return f"{row.buffer_elements:,} elements ({row.buffer_2_20:.4f} x 2^20)"
    return f"{getattr(row, kind):,}"


@main.command()
@click.argument("genotype_json", type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--out",
    "out_py",
    type=click.Path(path_type=Path),
    required=True,
    help="the standalone .py file to write.",
)
@click.option(
    "--space",
    "space_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="the generated space (default: the one the genotype names).",
)
def export(genotype_json: Path, out_py: Path, space_dir: Path | None) -> None:
    """Write one standalone file (torch only) with the searched module."""
    from sedsl.search.export import export_searched

    done = _run_guarded(lambda: export_searched(genotype_json, out_py, space_dir=space_dir))
    click.echo(f"wrote {done.path}")
    for op, target in done.needs.items():
        click.echo(
            f'note: the file imports "{target}" (extern op `{op}`) when the block is built; '
            "it must be importable wherever the file is used"
        )


@main.command()
@click.argument("space_dir", type=click.Path(path_type=Path))
@click.option(
    "--genotype",
    required=True,
    help="a genotype declared in the space, a genotype.json from a search, or none.",
)
@click.option(
    "--dataset",
    type=DatasetType(),
    default="cifar10",
    show_default=True,
    help="the images to train and test on; digits and synthetic need no download.",
)
@click.option("--data-dir", default="data", show_default=True, help="where datasets live.")
@click.option("--download", is_flag=True, help="download CIFAR if missing.")
@click.option(
    "--backbone",
    type=click.Choice(SEARCH_BACKBONES),
    default="resnet20",
    show_default=True,
    help="the network the block goes into.",
)
@click.option("--epochs", type=int, default=200, show_default=True, help="epochs of training.")
@click.option("--batch-size", type=int, default=128, show_default=True, help="batch size.")
@click.option(
    "--lr", type=float, default=0.1, show_default=True, help="learning rate (SGD, cosine to 0)."
)
@click.option("--seed", type=int, default=0, show_default=True, help="random seed.")
@click.option(
    "--device",
    type=DeviceType(),
    default="auto",
    show_default=True,
    help="where to run; auto: cuda when available.",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=Path("runs/train"),
    show_default=True,
    help="run directory.",
)
@click.option("--resume", is_flag=True, help="continue the run in --out from its checkpoint.")
@click.option("--overwrite", is_flag=True, help="start over in --out, replacing the run it holds.")
@click.option("--quiet", "-q", is_flag=True, help="no progress output.")
def train(
    space_dir,
    genotype,
    dataset,
    data_dir,
    download,
    backbone,
    out,
    resume,
    overwrite,
    quiet,
    **flags,
) -> None:
    """Train a backbone with the fixed module from scratch; report params and accuracy."""

    def action():
        from dataclasses import replace

        from sedsl.search.train import TrainConfig, run_train

        config = replace(
            TrainConfig(),
            dataset=dataset,
            data_dir=data_dir,
            download=download,
            backbone=backbone,
            **flags,
        )
        return run_train(
            space_dir,
            genotype,
            out=out,
            config=config,
            quiet=quiet,
            resume=resume,
            overwrite=overwrite,
        )

    result = _run_guarded(action)
    click.echo(
        f"{result.parameters:,} parameters  test acc {result.test_acc:.4f}  "
        f"test loss {result.test_loss:.4f}  train acc {result.train_acc:.4f}  "
        f"({result.seconds:.1f} s); {out / 'result.json'}"
    )


@main.command()
def lsp() -> None:
    """Serve the language server for .space files on stdin/stdout (for editors: docs/editor.md)."""
    try:
        from sedsl.lsp.server import serve
    except ModuleNotFoundError as exc:
        missing = (exc.name or "").split(".")[0]
        if missing not in ("pygls", "lsprotocol", "cattrs", "attrs"):
            raise
        click.echo(
            f"error: `sedsl lsp` needs pygls 2, which is not installed ({missing} is missing); "
            "install it with: pip install 'pygls>=2,<3'",
            err=True,
        )
        sys.exit(EXIT_USAGE)
    serve()


def _register_swap_commands() -> None:
    from sedsl.swap.commands import evaluate, finetune, swap

    main.add_command(swap)
    main.add_command(evaluate)
    main.add_command(finetune)


_register_swap_commands()


def _add_colour_options() -> None:
    """--color / --no-color on the group and on every command, each the same option."""
    for command in (main, *main.commands.values()):
        if not any(p.name == "color" for p in command.params):
            command.params.append(_colour_option())


_add_colour_options()

if __name__ == "__main__":
    main()
