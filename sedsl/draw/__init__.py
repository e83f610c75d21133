"""`sedsl graph`: the picture of a space's block, as the papers draw theirs.

`model` turns the IR into a graph of vertices and arcs, `layout` places it, `draw` renders
it with matplotlib; `overlay` reads what a genotype or a search run adds on top.
"""

from __future__ import annotations

from pathlib import Path

from sedsl.diagnostics.codes import Code
from sedsl.draw.overlay import DrawError

FORMATS = (".svg", ".png", ".pdf")

__all__ = ["FORMATS", "DrawError", "draw_space"]


def draw_space(
    path: Path,
    out: Path,
    *,
    genotype: str | None = None,
    run: Path | None = None,
    overrides: dict[str, int | float] | None = None,
) -> Path:
    """Check the space at `path` and draw its block to `out` (.svg, .png or .pdf)."""
    from sedsl.check.checker import check_file
    from sedsl.check.render import render_text
    from sedsl.draw.draw import render
    from sedsl.draw.model import block_graph
    from sedsl.draw.overlay import overlay

    if out.suffix.lower() not in FORMATS:
        raise DrawError(f"{out}: the picture must be one of {', '.join(FORMATS)}")
    if not out.parent.is_dir():
        raise DrawError(f"{out}: no folder {out.parent}")
    report = check_file(path, overrides, display=str(path))
    if not report.ok or report.space is None:
        diags = report.diagnostics.sorted()
        sources = {}
        for file in {d.span.file for d in diags}:
            try:
                sources[file] = Path(file).read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
        usage = any(d.code == Code.CANNOT_READ for d in diags)
        raise DrawError(
            render_text(diags, sources).rstrip("\n"), code=2 if usage else 1, rendered=True
        )
    if report.space.block is None:
        raise DrawError(f"{path}: a library (no block); nothing to draw")
    graph = block_graph(report.space)
    return render(graph, out, overlay(report.space, genotype, run))
