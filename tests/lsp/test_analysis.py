"""The language server's analysis over every shipped space: at every position of every
file, what hover and definition say is well formed, and points at real places."""

from __future__ import annotations

from pathlib import Path

import pytest

from sedsl.language import ast
from sedsl.lsp.analysis import analyse, definition, lookup

ROOT = Path(__file__).resolve().parents[2]
SPACES = sorted((ROOT / "spaces").rglob("*.space"))


@pytest.mark.parametrize("path", SPACES, ids=lambda p: p.name)
def test_every_position_of_a_shipped_space(path):
    an = analyse(path)
    assert not any(d.is_error for d in an.diagnostics)
    lines = path.read_text(encoding="utf-8").split("\n")
    hovers = definitions = 0
    for number, line in enumerate(lines, 1):
        for column in range(1, len(line) + 2):
            target = lookup(an, number, column)
            if target is None:
                continue
            assert target.hover.strip(), (number, column)
            hovers += 1
            found = definition(an, number, column)
            if found is None:
                continue
            file, span = found
            assert file.is_file(), (number, column, file)
            if span is not None:
                length = len(file.read_text(encoding="utf-8").split("\n"))
                assert 1 <= span.line <= span.end_line <= length, (number, column, span)
            definitions += 1
    assert hovers > 0 and definitions > 0
    # on every op's and op set's own name: its signature, and its definition is itself
    decls = [d for d in an.module.decls if isinstance(d, ast.OpDef | ast.OpSet)]
    assert decls
    for decl in decls:
        keyword = "op" if isinstance(decl, ast.OpDef) else "opset"
        column = decl.span.column + len(keyword) + 1
        assert lines[decl.span.line - 1][column - 1 :].startswith(decl.name)
        text = lookup(an, decl.span.line, column).hover
        assert f"{keyword} {decl.name}(" in text, text
        assert definition(an, decl.span.line, column) == (path.resolve(), decl.span)


def _at(path: Path, needle: str, offset: int = 0) -> tuple[int, int]:
    lines = path.read_text(encoding="utf-8").split("\n")
    number = next(i for i, line in enumerate(lines, 1) if needle in line)
    return number, lines[number - 1].index(needle) + offset + 1


def test_a_loop_shows_every_unrolled_node_with_its_group_shape():
    path = ROOT / "spaces" / "hoga.space"
    an = analyse(path)
    text = lookup(an, *_at(path, "U[k] =")).hover
    # K = 4 groups of C / K channels each (AutoLA, eq. 2)
    assert [line for line in text.splitlines() if line.startswith("U[")] == [
        f"U[{k}]: [B, C / K, H, W]" for k in range(4)
    ]


def test_a_shared_instance_names_its_op_and_goes_to_its_statement():
    path = ROOT / "spaces" / "classic.space"
    an = analyse(path)
    at = _at(path, "mlp(avg_pool")
    text = lookup(an, *at).hover
    assert "shared instance `mlp`" in text and "op fc(s: [B, C, 1, 1]" in text
    file, span = definition(an, *at)
    assert file == path.resolve() and (span.line, span.column) == _at(path, "shared mlp")
