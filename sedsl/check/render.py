"""Diagnostics as text (rustc style, coloured on a terminal), one line each, or JSON."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from sedsl.diagnostics.diagnostic import Diagnostic, Severity
from sedsl.diagnostics.span import Span

JSON_SCHEMA_VERSION = 1

_COLOURS = {
    "error": "\033[1;31m",
    "warning": "\033[1;33m",
    "note": "\033[1;36m",
    "bold": "\033[1m",
    "blue": "\033[1;34m",
    "reset": "\033[0m",
}


def _paint(text: str, style: str, colour: bool) -> str:
    return f"{_COLOURS[style]}{text}{_COLOURS['reset']}" if colour else text


def render_text(diags: Iterable[Diagnostic], sources: dict[str, str], colour: bool = False) -> str:
    return "\n".join(_render_one(d, sources, colour) for d in diags)


def sources_of(diags: Iterable[Diagnostic]) -> dict[str, str]:
    """The text of each file the diagnostics point at (their spans and labels), for
    render_text's source lines; a file that cannot be read is left out."""
    diags = list(diags)
    sources = {}
    for file in {d.span.file for d in diags} | {lab.span.file for d in diags for lab in d.labels}:
        try:
            sources[file] = Path(file).read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
    return sources


def _render_one(d: Diagnostic, sources: dict[str, str], colour: bool) -> str:
    sev = d.severity.value
    head = _paint(f"{sev}[{d.code}]", sev, colour) + _paint(f": {d.message}", "bold", colour)
    lines = [head]
    spans = [(d.span, d.label, True)] + [(lab.span, lab.message, False) for lab in d.labels]
    gutter = max(len(str(s.line)) for s, _, _ in spans)
    pad = " " * gutter
    bar = _paint("|", "blue", colour)
    lines.append(f"{pad}{_paint('-->', 'blue', colour)} {d.span}")
    source = sources.get(d.span.file)
    shown = False
    for span, label, primary in spans:
        text = sources.get(span.file)
        if text is None or span.line < 1:
            continue
        src_lines = text.split("\n")
        if span.line > len(src_lines):
            continue
        if span.file != d.span.file:
            lines.append(f"{pad}{_paint('::', 'blue', colour)} {span}")
        line_text = src_lines[span.line - 1].replace("\t", " ")
        if len(line_text) > 200:
            line_text = line_text[:200] + " ..."
        start = max(span.column, 1)
        end = span.end_column if span.end_line == span.line else len(line_text) + 1
        width = max(1, min(end, len(line_text) + 1) - start)
        marker = ("^" if primary else "-") * width
        style = sev if primary else "blue"
        lines.append(f"{pad} {bar}")
        lines.append(f"{_paint(str(span.line).rjust(gutter), 'blue', colour)} {bar} {line_text}")
        underline = _paint(marker + (" " + label if label else ""), style, colour)
        lines.append(f"{pad} {bar} {' ' * (start - 1)}{underline}")
        shown = True
    if shown or source is not None:
        lines.append(f"{pad} {bar}")
    for note in d.notes:
        lines.append(
            f"{pad} {_paint('=', 'blue', colour)} {_paint('note', 'bold', colour)}: {note}"
        )
    if d.help:
        lines.append(
            f"{pad} {_paint('=', 'blue', colour)} {_paint('help', 'bold', colour)}: {d.help}"
        )
    return "\n".join(lines) + "\n"


def render_concise(diags: Iterable[Diagnostic]) -> str:
    return "".join(f"{d.span}: {d.severity.value}[{d.code}]: {d.message}\n" for d in diags)


def _span_json(span: Span) -> dict:
    return {
        "file": span.file,
        "line": span.line,
        "column": span.column,
        "end_line": span.end_line,
        "end_column": span.end_column,
    }


def render_json(diags: Iterable[Diagnostic], files: list[str], sizes: list | None = None) -> str:
    diags = list(diags)
    payload = {
        "version": JSON_SCHEMA_VERSION,
        "files": files,
        "errors": sum(d.severity is Severity.ERROR for d in diags),
        "warnings": sum(d.severity is Severity.WARNING for d in diags),
        "diagnostics": [
            {
                "code": d.code,
                "severity": d.severity.value,
                "message": d.message,
                "span": _span_json(d.span),
                "label": d.label,
                "labels": [
                    {"span": _span_json(lab.span), "message": lab.message} for lab in d.labels
                ],
                "notes": list(d.notes),
                "help": d.help,
            }
            for d in diags
        ],
    }
    payload["sizes"] = sizes or []  # per clean space: which candidates follow any size
    return json.dumps(payload, indent=2) + "\n"


# Here, not in sizes.py, so that a warm `sedsl check` (sizes from the cache) does not import
# the IR and the op library.
def size_note(report: dict) -> str | None:
    """One line naming the candidates (and block part) that pin the input size, if any."""
    pins = [f"{c['opset']}.{c['candidate']}" for c in report["candidates"] if c["pinned_by"]]
    if report["block"]["pinned_by"]:
        pins.insert(0, f"the block ({report['block']['pinned_by']})")
    if not pins:
        return None
    return (
        f"{report['file']}: note: {len(pins)} of {len(report['candidates'])} candidates pin the "
        f"input size (weights shaped by H or W), the others follow any size: {', '.join(pins)}"
    )
