"""A layered (Sugiyama-style) layout of a block's graph, top to bottom, sized to its boxes.

networkx holds the graph; the layers minimise the total length of the arcs (Gansner et
al.'s linear program, solved by scipy's HiGHS), searched arcs counting double so that a
searched edge's label sits between what it reads and what it computes; long arcs pass
through waypoints; barycenter sweeps order each layer to cut crossings; then each layer
is placed as close to its neighbours as its boxes' real widths allow (isotonic
regression, scipy), so no two boxes overlap whatever the space; long arcs are then run
straight where nothing is in their way. A searched edge's label box is a vertex of its own.
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx

from sedsl.draw.model import BlockGraph

ROW_GAP = 34.0  # points between layers
COLUMN_GAP = 18.0  # points between boxes of one layer
LINE_GAP = 6.0  # points between two arcs passing through a layer side by side
WAYPOINT = (3.0, 0.0)  # the room a long arc takes in a layer it crosses
APPROACH = 7.0  # an arc leaves and enters a box vertically over this many points
SWEEPS = 8
PLACEMENTS = 40


@dataclass(frozen=True)
class Box:
    id: str
    x: float  # center, points
    y: float
    width: float
    height: float
    layer: int

    @property
    def top(self) -> float:
        return self.y + self.height / 2

    @property
    def bottom(self) -> float:
        return self.y - self.height / 2


@dataclass(frozen=True)
class Route:
    """One arc of the picture, as the polyline from the source box's bottom to the point
    above the target box where its arrow starts; the arrow goes straight down from there."""

    points: tuple[tuple[float, float], ...]
    arrow_to: tuple[float, float]  # the arrow's tip, on the target box's top
    label: str | None  # the id of the searched edge's label box on the way, if any


@dataclass(frozen=True)
class Layout:
    boxes: dict[str, Box]  # every vertex and label box (no waypoints)
    routes: tuple[Route, ...]  # one per arc of the graph, in its order
    width: float
    height: float


def label_id(edge: str) -> str:
    return f"@{edge}"


def is_waypoint(node: str) -> bool:
    return node.startswith("~")


def layout(graph: BlockGraph, sizes: dict[str, tuple[float, float]]) -> Layout:
    """Place every vertex and label box; `sizes` gives each one's (width, height) in points."""
    dag = _layout_graph(graph)
    layers = _layers(dag)
    chains = _split_long_arcs(dag, layers)
    rows = _order(dag, layers)
    sizes = {**{n: WAYPOINT for n in layers if is_waypoint(n)}, **sizes}
    xs = _place(dag, rows, sizes)
    _straighten(chains, rows, xs, sizes)
    tops, bottoms = _row_extents(rows, sizes)
    boxes = {
        n: Box(
            n,
            xs[n],
            (tops[i] + bottoms[i]) / 2 if is_waypoint(n) else tops[i] - sizes[n][1] / 2,
            *sizes[n],
            i,
        )
        for i, row in enumerate(rows)
        for n in row
    }
    hops_of = []
    for arc in graph.arcs:
        label = label_id(arc.searched.edge) if arc.searched else None
        ends = [arc.source, label, arc.target] if label else [arc.source, arc.target]
        hops = [ends[0]]
        for a, b in zip(ends, ends[1:], strict=False):
            hops += [*chains[(a, b)], b]
        hops_of.append((hops, label))
    exits = _ports(boxes, [(h[0], h[1]) for h, _ in hops_of], outgoing=True)
    entries = _ports(boxes, [(h[-1], h[-2]) for h, _ in hops_of], outgoing=False)
    routes = []
    for index, (hops, label) in enumerate(hops_of):
        source, target = boxes[hops[0]], boxes[hops[-1]]
        points = [(exits[index], source.bottom), (exits[index], bottoms[source.layer] - APPROACH)]
        for hop in hops[1:-1]:
            box = boxes[hop]
            points += [(box.x, tops[box.layer] + APPROACH), (box.x, bottoms[box.layer] - APPROACH)]
        points.append((entries[index], tops[target.layer] + APPROACH))
        routes.append(Route(tuple(points), (entries[index], target.top), label))
    drawn = {n: b for n, b in boxes.items() if not is_waypoint(n)}
    left = min(
        min(b.x - b.width / 2 for b in drawn.values()), *(x for r in routes for x, _ in r.points)
    )
    right = max(
        max(b.x + b.width / 2 for b in drawn.values()), *(x for r in routes for x, _ in r.points)
    )
    top, bottom = tops[0], bottoms[-1]
    moved = {
        n: Box(n, b.x - left, b.y - bottom, b.width, b.height, b.layer) for n, b in drawn.items()
    }
    routes = [
        Route(
            tuple((x - left, y - bottom) for x, y in r.points),
            (r.arrow_to[0] - left, r.arrow_to[1] - bottom),
            r.label,
        )
        for r in routes
    ]
    return Layout(moved, tuple(routes), right - left, top - bottom)


def _layout_graph(graph: BlockGraph) -> nx.DiGraph:
    dag = nx.DiGraph()
    dag.add_nodes_from(v.id for v in graph.vertices)
    inputs = {v.id for v in graph.vertices if v.kind == "input"}
    for arc in graph.arcs:
        if arc.searched:
            label = label_id(arc.searched.edge)
            dag.add_edge(arc.source, label, weight=1.0 if arc.source in inputs else 2.0)
            dag.add_edge(label, arc.target, weight=2.0)
        else:
            dag.add_edge(arc.source, arc.target, weight=1.0)
    return dag


def _layers(dag: nx.DiGraph) -> dict[str, int]:
    """Minimise the weighted total arc length over layers, every arc going down at least one
    layer (Gansner et al. 1993, the layering of graphviz's dot); ties go down, next to
    the reader, and the block's input may stretch its arcs like any plain one."""
    from scipy.optimize import linprog
    from scipy.sparse import lil_matrix

    nodes = list(dag.nodes)
    index = {n: i for i, n in enumerate(nodes)}
    arcs = list(dag.edges(data="weight"))
    cost = [-1e-3] * len(nodes)
    rows = lil_matrix((len(arcs), len(nodes)))
    for k, (a, b, weight) in enumerate(arcs):
        cost[index[b]] += weight
        cost[index[a]] -= weight
        rows[k, index[a]], rows[k, index[b]] = 1.0, -1.0  # layer(a) - layer(b) <= -1
    result = linprog(
        cost, A_ub=rows.tocsr(), b_ub=[-1.0] * len(arcs), bounds=(0, len(nodes)), method="highs"
    )
    if not result.success:  # cannot happen for a DAG; keep a valid layering regardless
        return {n: i for i, gen in enumerate(nx.topological_generations(dag)) for n in gen}
    raw = {n: round(result.x[index[n]]) for n in nodes}
    used = {layer: k for k, layer in enumerate(sorted(set(raw.values())))}  # no empty layer
    return {n: used[layer] for n, layer in raw.items()}


def _split_long_arcs(dag: nx.DiGraph, layers: dict[str, int]) -> dict[tuple[str, str], list[str]]:
    """Replace each arc that spans layers by a chain through waypoint vertices (`~n`)."""
    chains: dict[tuple[str, str], list[str]] = {}
    for a, b in list(dag.edges):
        chain = []
        previous = a
        for layer in range(layers[a] + 1, layers[b]):
            waypoint = f"~{len(layers)}"
            layers[waypoint] = layer
            dag.add_edge(previous, waypoint)
            chain.append(waypoint)
            previous = waypoint
        if chain:
            dag.remove_edge(a, b)
            dag.add_edge(previous, b)
        chains[(a, b)] = chain
    return chains


def _order(dag: nx.DiGraph, layers: dict[str, int]) -> list[list[str]]:
    """Each layer's vertices left to right: barycenter sweeps, the fewest crossings kept."""
    rows: list[list[str]] = [[] for _ in range(max(layers.values()) + 1)]
    for node in dag.nodes:  # insertion order: the block's own order
        rows[layers[node]].append(node)
    best, best_crossings = [list(r) for r in rows], _crossings(dag, rows)
    for sweep in range(SWEEPS):
        down = sweep % 2 == 0
        indices = range(1, len(rows)) if down else range(len(rows) - 2, -1, -1)
        for i in indices:
            fixed = {n: k for k, n in enumerate(rows[i - 1 if down else i + 1])}
            neighbours = dag.predecessors if down else dag.successors
            rows[i] = sorted(rows[i], key=_barycenter(neighbours, fixed, rows[i]))
        crossings = _crossings(dag, rows)
        if crossings < best_crossings:
            best, best_crossings = [list(r) for r in rows], crossings
    return best


def _barycenter(neighbours, fixed: dict[str, int], row: list[str]):
    current = {n: k for k, n in enumerate(row)}

    def key(node: str) -> float:
        places = [fixed[m] for m in neighbours(node) if m in fixed]
        return sum(places) / len(places) if places else current[node]

    return key


def _crossings(dag: nx.DiGraph, rows: list[list[str]]) -> int:
    total = 0
    for upper, lower in zip(rows, rows[1:], strict=False):
        up = {n: k for k, n in enumerate(upper)}
        low = {n: k for k, n in enumerate(lower)}
        arcs = [(up[a], low[b]) for a in upper for b in dag.successors(a) if b in low]
        total += sum(
            1
            for i, (a1, b1) in enumerate(arcs)
            for a2, b2 in arcs[i + 1 :]
            if (a1 - a2) * (b1 - b2) < 0
        )
    return total


def _place(dag: nx.DiGraph, rows: list[list[str]], sizes) -> dict[str, float]:
    """x of every vertex: each layer in turn moves as near the mean of its neighbours as the
    order and the boxes' widths allow, the least-squares placement by isotonic regression."""
    from scipy.optimize import isotonic_regression

    offsets = {}
    for row in rows:
        at = 0.0
        for k, node in enumerate(row):
            if k:
                at += (sizes[row[k - 1]][0] + sizes[node][0]) / 2 + _gap(row[k - 1], node)
            offsets[node] = at
    xs = {}
    for row in rows:  # start centered
        middle = (offsets[row[0]] + offsets[row[-1]]) / 2
        xs.update({n: offsets[n] - middle for n in row})
    for sweep in range(PLACEMENTS):
        order = rows if sweep % 2 == 0 else rows[::-1]
        for row in order:
            wanted = []
            for node in row:
                near = [xs[m] for m in (*dag.predecessors(node), *dag.successors(node))]
                wanted.append(sum(near) / len(near) if near else xs[node])
            weights = [4.0 if is_waypoint(n) else 1.0 for n in row]
            fit = isotonic_regression(
                [w - offsets[n] for w, n in zip(wanted, row, strict=True)], weights=weights
            ).x
            xs.update({n: float(y) + offsets[n] for y, n in zip(fit, row, strict=True)})
    return xs


def _straighten(chains, rows: list[list[str]], xs: dict[str, float], sizes) -> None:
    """Run each long arc straight down where the boxes beside it leave the room."""
    where = {n: (i, k) for i, row in enumerate(rows) for k, n in enumerate(row)}

    def fits(node: str, x: float) -> bool:
        i, k = where[node]
        row = rows[i]
        for j in (k - 1, k + 1):
            if 0 <= j < len(row):
                other = row[j]
                room = (sizes[node][0] + sizes[other][0]) / 2 + _gap(node, other)
                if (xs[other] - x) * (j - k) < room:
                    return False
        return True

    for (a, b), chain in chains.items():
        if not chain:
            continue
        ordered = sorted(xs[n] for n in chain)
        for x in (ordered[len(ordered) // 2], xs[a], xs[b]):
            if all(fits(n, x) for n in chain):
                xs.update({n: x for n in chain})
                break
        else:  # straight runs, with a step only where a box is in the way
            for previous, node in zip(chain, chain[1:], strict=False):
                if fits(node, xs[previous]):
                    xs[node] = xs[previous]


def _gap(a: str, b: str) -> float:
    return LINE_GAP if is_waypoint(a) or is_waypoint(b) else COLUMN_GAP


def _row_extents(rows: list[list[str]], sizes) -> tuple[list[float], list[float]]:
    tops, bottoms, y = [], [], 0.0
    for row in rows:
        height = max(sizes[n][1] for n in row)
        tops.append(y)
        bottoms.append(y - height)
        y -= height + ROW_GAP
    return tops, bottoms


def _ports(boxes: dict[str, Box], pairs: list[tuple[str, str]], outgoing: bool) -> list[float]:
    """Where each arc leaves (or enters) its box: spread along the box's bottom (or top) in
    the order of the boxes at the other end, so arcs into one box do not merge."""
    by_box: dict[str, list[int]] = {}
    for index, (box, _) in enumerate(pairs):
        by_box.setdefault(box, []).append(index)
    ports = [0.0] * len(pairs)
    for box_id, indices in by_box.items():
        box = boxes[box_id]
        indices.sort(key=lambda i: boxes[pairs[i][1]].x)
        span = min(box.width * 0.6, 10.0 * (len(indices) - 1))
        for k, i in enumerate(indices):
            step = span / (len(indices) - 1) if len(indices) > 1 else 0.0
            ports[i] = box.x - span / 2 + k * step
    return ports
