"""A cache of check results, as ruff and mypy keep one: a file whose bytes, imports, the
parameter overrides and sedsl's own sources are unchanged gets its diagnostics back
without parsing or resolving. Entries record every file they read, with its digest, so an
edit to an imported library invalidates them. Off with SEDSL_NO_CACHE=1."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

from sedsl import GRAMMAR_PATH, ROOT, __version__, store
from sedsl.diagnostics.diagnostic import Diagnostic
from sedsl.frozen import frozen


@frozen
class CachedCheck:
    diagnostics: tuple[Diagnostic, ...]
    summary: str | None  # the "ok: ..." line, when the space is clean
    files: tuple[tuple[str, str], ...]  # (path, sha256) of every source read
    sizes: dict | None = None  # sedsl.check.sizes.size_report, when the space is clean


@lru_cache(maxsize=1)
def _toolchain_digest() -> str:
    """sedsl's own sources and grammar: a change to the checker invalidates every entry."""
    digest = hashlib.sha256(__version__.encode())
    for path in sorted((ROOT / "sedsl").rglob("*.py")) + [GRAMMAR_PATH]:
        if "search" in path.parts or "codegen" in path.parts:
            continue
        digest.update(path.read_bytes())
    return digest.hexdigest()


def file_digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def _key(path: Path, display: str, overrides: dict) -> str:
    digest = hashlib.sha256(_toolchain_digest().encode())
    digest.update(f"{display}\0{path.resolve()}\0{sorted(overrides.items())!r}".encode())
    return digest.hexdigest()


def load(path: Path, display: str, overrides: dict) -> CachedCheck | None:
    if store.directory("check") is None:  # off: the key (all of sedsl's sources) is not needed
        return None
    entry = store.load("check", _key(path, display, overrides), CachedCheck)
    if entry is None or any(file_digest(Path(f)) != d for f, d in entry.files):
        return None
    return entry


def save(path: Path, display: str, overrides: dict, entry: CachedCheck) -> None:
    if store.directory("check") is None:
        return
    store.store("check", _key(path, display, overrides), entry)
