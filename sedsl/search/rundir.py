"""The life of a run directory (search or train): no lost run, no stuck folder.

- A run that fails or is interrupted before its first checkpoint leaves nothing: the files
  it wrote are removed, and so is the folder when the run created it. A plain rerun starts.
- After a checkpoint, an interrupt keeps the checkpoint and the files written with it (one
  uninterruptible step at the end of each epoch), and `--resume` continues exactly.
- SIGTERM is handled as SIGINT is, and the interruption says exactly what was kept.
- A folder holding a checkpoint is never overwritten by accident: `--resume` continues it,
  `--overwrite` replaces sedsl's files in it (and refuses when it holds anything else).
"""

from __future__ import annotations

import json
import shutil
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from .errors import SearchError

T = TypeVar("T")
CHECKPOINT = "checkpoint.pt"


class RunInterrupted(KeyboardInterrupt):
    """A run stopped by SIGINT or SIGTERM, after tidying its folder; str() says what was kept."""

    def __init__(self, message: str, signal_number: int) -> None:
        super().__init__(message)
        self.message = message
        self.signal_number = signal_number
        self.exit_code = 128 + signal_number

    def __str__(self) -> str:
        return self.message


class _Signalled(KeyboardInterrupt):
    def __init__(self, signal_number: int) -> None:
        super().__init__(signal.Signals(signal_number).name)
        self.signal_number = signal_number


@dataclass(frozen=True)
class RunFiles:
    """What a kind of run writes into its folder; nothing else is ever removed."""

    kind: str  # "search" or "train", for messages
    files: tuple[str, ...]  # the checkpoint first
    record: str  # the JSON written with each checkpoint: epochs_completed, epochs
    folders: tuple[str, ...] = ()

    def owned(self, path: Path) -> bool:
        name = path.name
        if path.is_dir():
            return name in self.folders
        # atomic writes' temporaries: `.NAME.tmp-PID` (and `.NAME.tmp-PID.png`)
        return name in self.files or any(name.startswith(f".{f}.tmp-") for f in self.files)


# ---- signals -------------------------------------------------------------------------


class _Guard:
    """SIGINT and SIGTERM raise _Signalled, except inside `critical()`, where they wait."""

    def __init__(self) -> None:
        self.depth = 0
        self.pending: int | None = None

    def handle(self, signal_number: int, frame: Any) -> None:
        if self.depth:
            self.pending = signal_number
            return
        raise _Signalled(signal_number)


_guard: _Guard | None = None


@contextmanager
def signals_handled() -> Iterator[None]:
    global _guard
    if _guard is not None or threading.current_thread() is not threading.main_thread():
        yield  # nested (a sweep's searches) or off the main thread: the outer one handles
        return
    _guard = _Guard()
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    for number in previous:
        signal.signal(number, _guard.handle)
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        _guard = None


@contextmanager
def critical() -> Iterator[None]:
    """Hold SIGINT and SIGTERM until the block ends: a checkpoint and the files written
    from it are one step, so an interrupt never leaves them disagreeing."""
    guard = _guard
    if guard is None:
        yield
        return
    guard.depth += 1
    try:
        yield
    finally:
        guard.depth -= 1
        if not guard.depth and guard.pending is not None:
            number, guard.pending = guard.pending, None
            raise _Signalled(number)


# ---- resuming --------------------------------------------------------------------------


def refuse_changed_options(
    before: dict[str, Any], now: dict[str, Any], resumable: frozenset[str], changed=()
) -> None:
    """Refuse to resume when an option that changes the numbers differs from the run's;
    ``changed`` lists other differences already found (e.g. the genotype)."""
    changed = list(changed) + [
        f"{key}: {before[key]!r} -> {now[key]!r}"
        for key in now
        if key not in resumable and before[key] != now[key]
    ]
    if changed:
        raise SearchError(
            "cannot resume with different options (" + "; ".join(changed) + "); "
            "drop the changed options or start a new run with another --out"
        )


# ---- the folder ------------------------------------------------------------------------


def prepare(
    run_dir: Path, files: RunFiles, *, resume: bool, overwrite: bool, clear: bool = True
) -> None:
    """Refuse a folder this run must not write into; clear sedsl's files from one it starts
    over in (one that never reached a checkpoint, or any with `overwrite`)."""
    if resume and overwrite:
        raise SearchError("--resume continues a run and --overwrite replaces it; pass one")
    if run_dir.exists() and not run_dir.is_dir():
        raise SearchError(f"{run_dir} is a file, not a run directory; choose another --out")
    checkpoint = run_dir / files.files[0]
    if resume:
        if not checkpoint.is_file():
            state = "does not exist" if not run_dir.exists() else f"holds no {files.files[0]}"
            raise SearchError(
                f"--resume: {run_dir} {state}, so there is nothing to resume; "
                "run without --resume to start the run"
            )
        return
    entries = sorted(run_dir.iterdir()) if run_dir.is_dir() else []
    foreign = [p.name for p in entries if not files.owned(p)]
    if foreign:
        shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
        raise SearchError(
            f"{run_dir} exists and holds files that are not a sedsl {files.kind} run's "
            f"({shown}); choose another --out"
        )
    if checkpoint.is_file() and not overwrite:
        raise SearchError(
            f"{run_dir} holds a {files.kind} run ({_progress_of(run_dir, files)}); pass "
            "--resume to continue it, --overwrite to start it over, or choose another --out"
        )
    # no checkpoint (a run stopped before its first epoch ended) or --overwrite: start over
    for entry in entries if clear else ():
        _remove(entry)


def guarded(run_dir: Path, files: RunFiles, action: Callable[[], T]) -> T:
    """Run `action`, which writes into `run_dir`; tidy the folder when it fails or is stopped."""
    created = not run_dir.exists()
    try:
        with signals_handled():
            return action()
    except BaseException as exc:
        interrupted = isinstance(exc, KeyboardInterrupt) and not isinstance(exc, RunInterrupted)
        kept = _tidy(run_dir, files, created)
        if interrupted:
            number = exc.signal_number if isinstance(exc, _Signalled) else signal.SIGINT
            name = signal.Signals(number).name
            raise RunInterrupted(f"interrupted ({name}); {kept}", int(number)) from None
        raise


def _tidy(run_dir: Path, files: RunFiles, created: bool) -> str:
    """Remove what a stopped run leaves that no one can use; say what is kept."""
    if not run_dir.is_dir():
        return f"nothing was written; run the same command again to start the {files.kind}"
    for entry in run_dir.iterdir():
        if entry.is_file() and files.owned(entry) and entry.name not in files.files:
            entry.unlink(missing_ok=True)  # temporaries of an atomic write
    if (run_dir / files.files[0]).is_file():
        written = [f for f in files.files[1:] if (run_dir / f).is_file()]
        progress = _epochs(run_dir, files)
        lost = (
            f"the rest of epoch {progress[0] + 1} is lost"
            if progress and progress[0] < progress[1]
            else "nothing else was lost"
        )
        return (
            f"kept {run_dir / files.files[0]} ({_progress_of(run_dir, files)})"
            + (f" with {_and(written)} as of that epoch" if written else "")
            + f"; {lost}. Continue with the same command and --resume"
        )
    for entry in run_dir.iterdir():
        if files.owned(entry):
            _remove(entry)
    if created and not any(run_dir.iterdir()):
        run_dir.rmdir()
        where = f"{run_dir} was removed"
    else:
        where = f"sedsl's files were removed from {run_dir}"
    return (
        f"stopped before the first checkpoint: nothing was kept ({where}); "
        f"run the same command again to start the {files.kind} over"
    )


def _epochs(run_dir: Path, files: RunFiles) -> tuple[int, int] | None:
    """(epochs completed, epochs), from the record written with the checkpoint."""
    try:
        record = json.loads((run_dir / files.record).read_text(encoding="utf-8"))
        return int(record["epochs_completed"]), int(record["epochs"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _progress_of(run_dir: Path, files: RunFiles) -> str:
    progress = _epochs(run_dir, files)
    return f"after epoch {progress[0]} of {progress[1]}" if progress else "a checkpoint"


def _and(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)
