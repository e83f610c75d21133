"""Files -> AST: read, decode, and parse through a content-addressed cache.

A warm `sedsl check` never builds a Lark parser: the AST of a file whose bytes (and the
grammar) are unchanged comes from the cache, as mypy and ruff do it. `SEDSL_NO_CACHE=1`
turns the cache off; `SEDSL_CACHE_DIR` moves it. Every failure becomes a Diagnostic.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

from sedsl import GRAMMAR_PATH, __version__, store
from sedsl.diagnostics.codes import Code
from sedsl.diagnostics.diagnostic import Diagnostics
from sedsl.diagnostics.span import Span
from sedsl.language import ast

MAX_BYTES = 256 * 1024  # 60x the largest shipped space; lark parses ~150 KB/s


def parse_file(path: Path, diagnostics: Diagnostics, display: str | None = None) -> ast.Module:
    name = display or str(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        diagnostics.error(
            Code.CANNOT_READ, f"cannot read `{name}`: {exc.strerror}", Span.point(name)
        )
        return ast.Module((), path=name)
    return parse_bytes(data, name, diagnostics)


def parse_bytes(data: bytes, file: str, diagnostics: Diagnostics) -> ast.Module:
    if len(data) > MAX_BYTES:
        diagnostics.error(
            Code.SYNTAX,
            f"file is too large to be a space ({len(data):,} bytes; the limit is {MAX_BYTES:,})",
            Span.point(file),
        )
        return ast.Module((), path=file)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        diagnostics.error(
            Code.SYNTAX,
            f"file is not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start})",
            Span(file, line, column, line, column + 1, exc.start, exc.start + 1),
            help="a .space file is UTF-8 text",
        )
        return ast.Module((), path=file)
    return parse_text(text, file, diagnostics)


# Clean parses of this process, by cache key: a library that several spaces import is parsed
# once per `sedsl check`, even with SEDSL_NO_CACHE=1 (AST nodes are frozen, so sharing is safe).
# Bounded, so that the language server, which parses every edit, does not grow without end.
_PARSED: dict[str, ast.Module] = {}
_PARSED_MAX = 64


def parse_text(text: str, file: str, diagnostics: Diagnostics) -> ast.Module:
    key = _cache_key(text, file)
    cached = _PARSED.get(key) or _load(key)
    if cached is not None:
        _remember(key, cached)
        return cached
    before = len(diagnostics)
    module = parse_source(text, file, diagnostics)
    if len(diagnostics) == before:  # only clean parses are cached
        _remember(key, module)
        _store(key, module)
    return module


def parse_source(text: str, file: str, diagnostics: Diagnostics) -> ast.Module:
    """Parse decoded text, uncached: the fast parser, or Lark (the reference, which gives
    every syntax diagnostic) where the fast parser declines."""
    from sedsl.language import fastparse

    module = fastparse.parse(text, file)
    if module is not None:
        return module
    from sedsl.language.grammar import parse_source as parse_with_lark  # imports lark

    return parse_with_lark(text, file, diagnostics)


def _remember(key: str, module: ast.Module) -> None:
    if len(_PARSED) >= _PARSED_MAX:
        _PARSED.clear()
    _PARSED[key] = module


# ---- the cache ----------------------------------------------------------------------


# the grammar, its tables and the modules that turn text into an AST
_FRONT_END = ("grammar.py", "fastparse.py", "build.py", "comments.py")


@lru_cache(maxsize=1)
def _front_end_digest() -> bytes:
    digest = hashlib.sha256()
    here = Path(__file__)
    for path in (GRAMMAR_PATH, GRAMMAR_PATH.with_name("space.lalr.json")) + tuple(
        here.with_name(name) for name in _FRONT_END
    ):
        try:
            digest.update(path.read_bytes())
        except OSError:  # no tables: the fast parser declines, and Lark parses
            digest.update(b"missing")
    return digest.digest()


def _cache_key(text: str, file: str) -> str:
    digest = hashlib.sha256(__version__.encode())
    digest.update(_front_end_digest())
    digest.update(file.encode("utf-8", "surrogatepass") + b"\0")
    digest.update(text.encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


def _load(key: str) -> ast.Module | None:
    return store.load("ast", key, ast.Module)


def _store(key: str, module: ast.Module) -> None:
    store.store("ast", key, module)
