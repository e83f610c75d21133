"""Drawing a block's graph with matplotlib: SVG or PNG, sized in points so labels are
exactly as large as they are measured, with no box over another."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from sedsl.draw.layout import Box, Layout, Route, label_id, layout
from sedsl.draw.model import Arc, BlockGraph, Vertex
from sedsl.draw.overlay import Overlay

FONT = "DejaVu Sans"  # ships with matplotlib, so the measure is the font that is drawn
NAME_SIZE, SHAPE_SIZE, OP_SIZE = 9.0, 7.0, 8.5
HEADER_SIZE, CANDIDATE_SIZE = 8.0, 7.5
PAD = 5.0  # points inside a box
LINE = 1.25  # line height, in font sizes
CELL_GAP, CELL_PAD = 3.0, 2.5  # between the candidates of a grid, and around each
MARGIN = 8.0

INK, MUTED = "#1f1f1f", "#6b6b6b"
FILLS = {"input": "#e6e6e6", "output": "#e6e6e6", "tensor": "#ffffff", "op": "#dde9f5"}
SEARCHED, SEARCHED_FILL, CHOSEN = "#d46a00", "#fff4e6", "#d46a00"
WEIGHT_RGB = (0.83, 0.42, 0.0)


@dataclass(frozen=True)
class _Line:
    text: str
    size: float
    bold: bool = False
    colour: str = INK
    candidate: str | None = None  # set on a label box's candidate lines


def render(graph: BlockGraph, out: Path, overlay: Overlay | None = None) -> Path:
    """Draw `graph` to `out` (.svg or .png); returns the path written."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    overlay = overlay or Overlay()
    texts = _texts(graph, overlay)
    placed = place(graph, overlay)
    width, height = placed.width + 2 * MARGIN, placed.height + 2 * MARGIN
    with matplotlib.rc_context({"svg.hashsalt": "sedsl", "font.family": FONT}):
        figure = plt.figure(figsize=(width / 72, height / 72), dpi=72)
        axes = figure.add_axes((0, 0, 1, 1))
        axes.set_xlim(-MARGIN, placed.width + MARGIN)
        axes.set_ylim(-MARGIN, placed.height + MARGIN)
        axes.set_axis_off()
        for key, lines in texts.items():
            _draw_box(axes, placed.boxes[key], lines, graph, overlay)
        for arc, route in zip(graph.arcs, placed.routes, strict=True):
            _draw_arc(axes, route, arc.searched is not None)
        suffix = out.suffix.lower()
        temporary = out.with_name(f".{out.name}.tmp-{os.getpid()}{suffix}")
        metadata = {"Date": None} if suffix == ".svg" else {}
        figure.savefig(temporary, format=suffix[1:], dpi=200, metadata=metadata)
        plt.close(figure)
    os.replace(temporary, out)
    return out


def place(graph: BlockGraph, overlay: Overlay | None = None) -> Layout:
    """The layout of the picture, every box sized to its text."""
    texts = _texts(graph, overlay or Overlay())
    return layout(graph, {key: _box_size(lines) for key, lines in texts.items()})


# ---- text of each box --------------------------------------------------------------------


@dataclass(frozen=True)
class _Row:
    """One line of a box: one text, or a row of a label box's grid of candidates."""

    cells: tuple[_Line, ...]
    cell_width: float = 0.0  # the grid's column width; 0 for a single text

    @property
    def width(self) -> float:
        if not self.cell_width:
            return _measure(self.cells[0])
        return len(self.cells) * self.cell_width + (len(self.cells) - 1) * CELL_GAP

    @property
    def height(self) -> float:
        return max(c.size for c in self.cells) * LINE


def _texts(graph: BlockGraph, overlay: Overlay) -> dict[str, list[_Row]]:
    texts = {v.id: [_Row((line,)) for line in _vertex_lines(v)] for v in graph.vertices}
    for arc in graph.searched_arcs():
        texts[label_id(arc.searched.edge)] = _label_rows(graph, arc, overlay)
    return texts


def _vertex_lines(vertex: Vertex) -> list[_Line]:
    lines = [_Line(step, OP_SIZE) for step in vertex.steps]
    if vertex.name is not None:
        lines.append(_Line(vertex.name, NAME_SIZE, bold=True))
    if vertex.shape is not None:
        lines.append(_Line(vertex.shape, SHAPE_SIZE, colour=MUTED))
    return lines or [_Line(" ", SHAPE_SIZE)]


def _label_rows(graph: BlockGraph, arc: Arc, overlay: Overlay) -> list[_Row]:
    """The op set's name, then its candidates in a grid of up to three columns."""
    searched = arc.searched
    target = graph.vertex(arc.target)
    named = target.name == searched.name
    header = searched.opset if named else f"{searched.name}: {searched.opset}"
    chosen = overlay.chosen.get(searched.edge)
    weights = overlay.weights.get(searched.edge)
    cells = []
    for index, candidate in enumerate(searched.candidates):
        text = candidate if weights is None else f"{candidate} {weights[index]:.2f}"
        colour = INK if chosen in (None, candidate) else MUTED
        bold = chosen == candidate
        cells.append(_Line(text, CANDIDATE_SIZE, bold=bold, colour=colour, candidate=candidate))
    columns = 1 if len(cells) <= 4 else 2 if len(cells) <= 8 else 3
    width = max(_measure(c) for c in cells) + 2 * CELL_PAD
    rows = [_Row((_Line(header, HEADER_SIZE, bold=True, colour=SEARCHED),))]
    for start in range(0, len(cells), columns):
        rows.append(_Row(tuple(cells[start : start + columns]), width))
    return rows


def _measure(line: _Line) -> float:
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextPath

    prop = FontProperties(family=FONT, weight="bold" if line.bold else "normal")
    return TextPath((0, 0), line.text, size=line.size, prop=prop).get_extents().width


def _box_size(rows: list[_Row]) -> tuple[float, float]:
    width = max(row.width for row in rows) + 2 * PAD
    height = sum(row.height for row in rows) + 2 * PAD
    return width, height


# ---- shapes ----------------------------------------------------------------------------------


def _draw_box(axes, box: Box, rows: list[_Row], graph: BlockGraph, overlay: Overlay) -> None:
    from matplotlib.patches import FancyBboxPatch, Rectangle

    key = box.id
    is_label = key.startswith("@")
    kind = "label" if is_label else graph.vertex(key).kind
    rounded = kind in ("input", "output", "tensor", "label")
    axes.add_patch(
        FancyBboxPatch(
            (box.x - box.width / 2, box.y - box.height / 2),
            box.width,
            box.height,
            boxstyle="round,pad=0,rounding_size=4" if rounded else "square,pad=0",
            facecolor=SEARCHED_FILL if is_label else FILLS[kind],
            edgecolor=SEARCHED if is_label else INK,
            linewidth=1.0 if is_label or kind != "tensor" else 0.8,
            zorder=2,
        )
    )
    edge = key[1:] if is_label else ""
    y = box.y + box.height / 2 - PAD
    for row in rows:
        y -= row.height / 2
        full = row.width
        for k, cell in enumerate(row.cells):
            if row.cell_width:
                x = box.x - full / 2 + row.cell_width * (k + 0.5) + k * CELL_GAP
            else:
                x = box.x
            if cell.candidate is not None:
                weight = _weight(overlay, edge, cell.candidate)
                chosen = overlay.chosen.get(edge) == cell.candidate
                if weight is not None or chosen:
                    shade = 0.85 if weight is None else weight
                    axes.add_patch(
                        Rectangle(
                            (x - row.cell_width / 2, y - row.height / 2 + 0.5),
                            row.cell_width,
                            row.height - 1,
                            facecolor=(*WEIGHT_RGB, 0.08 + 0.62 * shade),
                            edgecolor=CHOSEN if chosen else "none",
                            linewidth=0.9,
                            zorder=3,
                        )
                    )
            axes.text(
                x,
                y,
                cell.text,
                fontsize=cell.size,
                fontweight="bold" if cell.bold else "normal",
                color=cell.colour,
                ha="center",
                va="center_baseline",
                zorder=4,
            )
        y -= row.height / 2


def _weight(overlay: Overlay, edge: str | None, candidate: str) -> float | None:
    weights = overlay.weights.get(edge or "")
    if weights is None:
        return None
    index = overlay.candidates[edge].index(candidate)
    top = max(weights) or 1.0
    return weights[index] / top


def _draw_arc(axes, route: Route, searched: bool) -> None:
    from matplotlib.lines import Line2D
    from matplotlib.patches import FancyArrowPatch

    colour = SEARCHED if searched else INK
    width = 1.4 if searched else 0.9
    xs, ys = zip(*route.points, strict=True)
    axes.add_line(Line2D(xs, ys, color=colour, linewidth=width, solid_joinstyle="round", zorder=1))
    axes.add_patch(
        FancyArrowPatch(
            route.points[-1],
            route.arrow_to,
            arrowstyle="-|>,head_length=5,head_width=2.5",
            shrinkA=0,
            shrinkB=0,
            color=colour,
            linewidth=width,
            zorder=1,
            mutation_scale=1,
        )
    )
