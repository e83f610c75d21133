"""`sedsl check FILES... [--format F] [--set NAME=VALUE]...`: check, print, exit code.

The click command (sedsl/cli.py) runs `run_check`, and so does the console script's
click-free start (`fast_check`, from sedsl/__main__.py): click's import is a tenth of a
cold check on 2 CPUs, and a `check` with plain arguments needs none of it. `fast_check`
takes only arguments it reads exactly as click does (files, --format, --set, --color,
--no-color) and declines everything else (help, usage errors, unreadable files), which
click then handles; tests/commandline/test_fast_check.py holds the two starts to the
same output and exit code.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable
from pathlib import Path

from sedsl.check.internal import EXIT_INTERNAL, internal_error, is_internal
from sedsl.diagnostics.codes import Code

EXIT_OK, EXIT_ERRORS, EXIT_USAGE = 0, 1, 2
FORMATS = ("text", "concise", "json")
# what click.echo strips from text for a stream that is not coloured (click.utils.strip_ansi)
_ANSI = re.compile(r"\033\[[;?0-9]*[a-zA-Z]")

Echo = Callable[..., None]  # echo(text, nl=True), as click.echo


def parse_overrides(values) -> dict[str, int | float]:
    """`--set NAME=VALUE` values; ValueError with the message for a malformed one."""
    overrides: dict[str, int | float] = {}
    for item in values:
        name, sep, raw = item.partition("=")
        if not sep:
            raise ValueError(f"expected NAME=VALUE, got `{item}`")
        try:
            overrides[name.strip()] = int(raw)
        except ValueError:
            try:
                overrides[name.strip()] = float(raw)
            except ValueError:
                raise ValueError(f"`{raw}` is not a number") from None
    return overrides


def run_check(files: list[Path], fmt: str, overrides: dict, colour: bool, echo: Echo) -> int:
    """Check `files`, print what was found through `echo`; the exit code."""
    from sedsl.check.batch import check_paths
    from sedsl.check.render import render_concise, render_json, render_text, size_note, sources_of

    all_diags, sources, summaries, sizes = [], {}, [], []
    for result in check_paths(files, overrides):
        all_diags.extend(result.diagnostics)
        sources.update(sources_of(result.diagnostics))
        if result.summary:
            summaries.append(result.summary)
        if result.sizes:
            sizes.append(result.sizes)
            note = size_note(result.sizes)
            if note:
                summaries.append(note)
    if fmt == "json":
        echo(render_json(all_diags, [str(f) for f in files], sizes), nl=False)
    elif fmt == "concise":
        echo(render_concise(all_diags), nl=False)
    else:
        if all_diags:
            echo(render_text(all_diags, sources, colour))
        for line in summaries:
            echo(line)
        errors = sum(d.is_error for d in all_diags)
        warnings = len(all_diags) - errors
        if errors:
            echo(f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}")
    if any(is_internal(d) for d in all_diags):
        return EXIT_INTERNAL
    if any(d.code == Code.CANNOT_READ for d in all_diags) and not any(
        d.is_error and d.code != Code.CANNOT_READ for d in all_diags
    ):
        return EXIT_USAGE
    return EXIT_ERRORS if any(d.is_error for d in all_diags) else EXIT_OK


# ---- the click-free start ---------------------------------------------------------------


def fast_check(args: list[str]) -> int | None:
    """`sedsl check ARGS` without click: the exit code, or None (nothing done) where the
    arguments are not ones it reads exactly as click does."""
    if sys.platform == "win32":
        return None  # click's echo translates colours for the Windows console there
    parsed = _parse_args(args)
    if parsed is None:
        return None
    files, fmt, overrides, flag = parsed
    colour = _stream_coloured(sys.stdout, flag)

    def echo(text: str, nl: bool = True) -> None:  # click.echo of a str to stdout
        text = text + "\n" if nl else text
        if not colour:
            text = _ANSI.sub("", text)
        if text:
            sys.stdout.write(text)
        sys.stdout.flush()

    try:
        return run_check(files, fmt, overrides, colour, echo)
    except Exception as exc:  # what cli._no_traceback makes of it: an internal error
        from sedsl.check.render import render_concise

        doing = "running `sedsl check` on"
        diag = internal_error(", ".join(str(f) for f in files), exc, doing)
        text = render_concise([diag])
        sys.stderr.write(text if _stream_coloured(sys.stderr, flag) else _ANSI.sub("", text))
        sys.stderr.flush()
        return EXIT_INTERNAL


def _parse_args(args: list[str]) -> tuple[list[Path], str, dict, bool | None] | None:
    files: list[Path] = []
    fmt, sets, flag = "text", [], None
    rest = iter(args)
    for arg in rest:
        name, eq, value = arg.partition("=")
        if name in ("--format", "--set") and arg.startswith("--"):
            if not eq:
                value = next(rest, None)
                if value is None or value.startswith("-"):
                    return None  # click's to report (or to read in its own way)
            if name == "--format":
                if value not in FORMATS:
                    return None
                fmt = value
            else:
                sets.append(value)
        elif arg in ("--color", "--no-color"):
            flag = arg == "--color"
        elif arg.startswith("-"):
            return None  # -h, --help, `--`, `-` and options click knows or rejects
        elif os.path.exists(arg) and not os.access(arg, os.R_OK):
            return None  # click.Path refuses it: a usage error
        else:
            files.append(Path(arg))
    if not files:
        return None
    try:
        overrides = parse_overrides(sets)
    except ValueError:
        return None
    return files, fmt, overrides, flag


def _stream_coloured(stream, flag: bool | None) -> bool:
    """cli._set_colour and cli._colour: the flag, else NO_COLOR / FORCE_COLOR, else whether
    the stream is a terminal."""
    if flag is not None:
        return flag
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return stream.isatty()
