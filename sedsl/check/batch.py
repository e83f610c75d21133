"""`sedsl check` of many files: each file's result, from the check cache where nothing
changed, else checked, on several CPUs where the machine has them idle.

Files are independent (each resolves its own imports), so the files the cache does not
answer are shared out by size among forked worker processes, as ruff and mypy spread
files over cores; the results come back in the order of the files, so the output is the
same as checking them one after the other. Forking (Linux only) copies the imported
checker, so a worker starts at once. SEDSL_JOBS=1 checks in this process only; a
worker that fails in any way has its files checked here instead.
"""

from __future__ import annotations

import gc
import os
import sys
from contextlib import contextmanager
from pathlib import Path

from sedsl.check import cache
from sedsl.check.cache import CachedCheck
from sedsl.check.internal import internal_error

MAX_JOBS = 8
MIN_BYTES_PER_JOB = 8 * 1024  # below this much source, a fork costs more than it saves
# the cycle collector's first generation, while checking: see _fewer_collections
YOUNG_THRESHOLD = 20_000


def check_paths(paths: list[Path], overrides: dict) -> list[CachedCheck]:
    """The result of each path, in order. A bug in sedsl on one file is an E900 on that
    file; the others go on."""
    results: list[CachedCheck | None] = []
    for path in paths:
        try:
            results.append(cache.load(path, str(path), overrides))
        except Exception as exc:  # a bug in sedsl: an E900 on this file
            results.append(_internal(path, exc))
    todo = [i for i, r in enumerate(results) if r is None]
    with _fewer_collections():
        for share, checked in _run_shares(_shares(paths, todo), paths, overrides):
            for i, result in zip(share, checked, strict=True):
                results[i] = result
    return results


@contextmanager
def _fewer_collections():
    """Checking allocates about a million short-lived objects, few of them in cycles; at
    Python's default threshold (700) the cycle collector ran 120 times over them, 3% of a
    cold check. Meanwhile what is alive already (the imported modules) is frozen out of its
    scans, which also keeps a forked worker from copying the pages they lie on, and the
    youngest generation is scanned every YOUNG_THRESHOLD allocations. Restored after."""
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


def _shares(paths: list[Path], todo: list[int]) -> list[list[int]]:
    """The indices to check, split into one share per job, balanced by file size (the
    largest first, each to the lightest share); each share in file order, the lightest
    share first."""
    sizes = {i: _size(paths[i]) for i in todo}
    jobs = min(_jobs(), len(todo), max(1, sum(sizes.values()) // MIN_BYTES_PER_JOB))
    shares: list[list[int]] = [[] for _ in range(max(jobs, 1))]
    loads = [0] * len(shares)
    for i in sorted(todo, key=lambda i: -sizes[i]):
        lightest = loads.index(min(loads))
        shares[lightest].append(i)
        loads[lightest] += sizes[i]
    # the lightest first: this process checks it, after forking and before rendering
    order = sorted(range(len(shares)), key=lambda k: loads[k])
    return [sorted(shares[k]) for k in order if shares[k]]


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _jobs() -> int:
    wanted = os.environ.get("SEDSL_JOBS", "")
    if wanted.isdigit() and int(wanted) >= 1:
        return min(int(wanted), MAX_JOBS)
    if not sys.platform.startswith("linux") or not hasattr(os, "fork"):
        return 1  # macOS's system libraries are not safe to fork; Windows has no fork
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return max(1, min(idle_cpus(cpus), MAX_JOBS))


def idle_cpus(cpus: int, loadavg: str = "/proc/loadavg") -> int:
    """The CPUs no other task is running on now, at least one: a worker on a busy CPU only
    adds the cost of its fork (make -l and ninja -l hold jobs back on a loaded machine
    alike). Linux counts the runnable tasks at this moment, this process among them, in
    the fourth field of /proc/loadavg ("2/180")."""
    try:
        with open(loadavg, encoding="ascii") as handle:
            running = int(handle.read().split()[3].split("/")[0])
    except (OSError, ValueError, IndexError):
        return cpus
    return max(1, min(cpus, cpus - (running - 1)))


def _run_shares(shares: list[list[int]], paths: list[Path], overrides: dict):
    """(share, its results) for every share: the first checked here, the others each in
    a forked worker at the same time."""
    if len(shares) > 1:
        _load_checker()  # once, before forking, rather than once in every worker
    workers = [(share, _fork(share, paths, overrides)) for share in shares[1:]]
    if shares:
        yield shares[0], _check_share(shares[0], paths, overrides)
    for share, worker in workers:
        checked = _collect(worker) if worker is not None else None
        yield share, checked if checked is not None else _check_share(share, paths, overrides)


def _load_checker() -> None:
    from sedsl.check import checker, sizes  # noqa: F401
    from sedsl.language import fastparse

    fastparse.load_tables()


def _check_share(share: list[int], paths: list[Path], overrides: dict) -> list[CachedCheck]:
    results = []
    for i in share:
        try:
            results.append(check_one(paths[i], overrides))
        except Exception as exc:  # a bug in sedsl: an E900 on this file
            results.append(_internal(paths[i], exc))
    return results


def _internal(path: Path, exc: Exception) -> CachedCheck:
    return CachedCheck((internal_error(str(path), exc, "checking"),), None, ())


def _fork(share: list[int], paths: list[Path], overrides: dict) -> tuple[int, int] | None:
    """A worker checking `share`: (its pid, the pipe it writes its results to)."""
    try:
        read, write = os.pipe()
        pid = os.fork()
    except OSError:
        return None
    if pid:
        os.close(write)
        return pid, read
    status = 1  # the worker: never returns, never runs the parent's exit handlers
    try:
        import pickle

        os.close(read)
        data = pickle.dumps(_check_share(share, paths, overrides), pickle.HIGHEST_PROTOCOL)
        with os.fdopen(write, "wb") as out:
            out.write(data)
        status = 0
    finally:
        os._exit(status)


def _collect(worker: tuple[int, int]) -> list[CachedCheck] | None:
    """A worker's results; None if it failed (its files are then checked here)."""
    import pickle

    pid, read = worker
    with os.fdopen(read, "rb") as pipe:
        data = pipe.read()
    _, status = os.waitpid(pid, 0)
    if status != 0:
        return None
    try:
        results = pickle.loads(data)
    except Exception:
        return None
    return results if isinstance(results, list) else None


def check_one(path: Path, overrides: dict) -> CachedCheck:
    """One file's diagnostics and summary, checked (and saved to the check cache)."""
    from sedsl.check.checker import check_file

    report = check_file(path, overrides, display=str(path))
    summary = None
    if report.space is not None and report.ok:
        s = report.space
        n_edges = len(s.block.edges) if s.block else 0
        n_cands = sum(len(o.candidates) for o in s.opsets)
        summary = (
            f"{path}: ok: space `{s.name}`, {n_edges} searched edges, {len(s.opsets)} op sets, "
            f"{n_cands} candidates, {len(s.genotypes)} genotypes; {report.proved} conditions "
            f"proved, {report.evaluated} verified at {report.points} points"
            + (f", {report.unproved} unproved" if report.unproved else "")
        )
    files = tuple((str(f), cache.file_digest(f)) for f in report.files)
    sizes = None
    if report.space is not None and report.ok and report.space.block is not None:
        from sedsl.check.sizes import size_report

        sizes = size_report(report.space, str(path))
    result = CachedCheck(tuple(report.diagnostics.sorted()), summary, files, sizes)
    if all(digest is not None for _, digest in files) and report.files:
        cache.save(path, str(path), overrides, result)
    return result
