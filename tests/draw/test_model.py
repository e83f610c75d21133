"""The picture's graph model against the IR, and against the papers' figures by hand."""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import pytest

from sedsl.check.checker import check_file
from sedsl.draw.model import BlockGraph, Vertex, block_graph

ROOT = Path(__file__).resolve().parents[2]
SPACES = sorted(p for p in (ROOT / "spaces").glob("*.space"))


def _space(name: str):
    report = check_file(ROOT / "spaces" / f"{name}.space")
    assert report.ok, [str(d) for d in report.diagnostics]
    return report.space


def _describe(vertex: Vertex) -> str:
    """A vertex as a reader of the figure names it: its tensor's name, or its ops."""
    return vertex.name if vertex.name is not None else " ; ".join(vertex.steps)


def _searched(graph: BlockGraph) -> dict[str, tuple[str, str]]:
    return {
        a.searched.name: (_describe(graph.vertex(a.source)), _describe(graph.vertex(a.target)))
        for a in graph.searched_arcs()
    }


@pytest.mark.parametrize("path", SPACES, ids=[p.stem for p in SPACES])
def test_every_shipped_space_draws_the_edges_and_nodes_of_its_ir(path):
    space = check_file(path).space
    graph = block_graph(space)
    block = space.block

    # each searched edge is exactly one arc, with its op set and candidates in order
    arcs = graph.searched_arcs()
    assert sorted(a.searched.edge for a in arcs) == sorted(e.py for e in block.edges)
    for arc in arcs:
        edge = next(e for e in block.edges if e.py == arc.searched.edge)
        assert arc.searched.opset == edge.opset
        assert arc.searched.candidates == tuple(c.label for c in space.opset(edge.opset).candidates)

    # each IR node is a vertex, or the result of an edge drawn straight into its reader
    drawn = [v.node for v in graph.vertices if v.node is not None]
    elided = [a.searched.result for a in arcs if a.searched.result not in drawn]
    assert len(drawn) == len(set(drawn))
    assert sorted(drawn + [r for r in elided if r is not None]) == sorted(
        n.py for n in block.graph.nodes
    )
    for vertex in graph.vertices:
        if vertex.node is not None:
            node = next(n for n in block.graph.nodes if n.py == vertex.node)
            assert vertex.name == node.name

    # the block's input and output, and every vertex between them
    dag = nx.DiGraph([(a.source, a.target) for a in graph.arcs])
    dag.add_nodes_from(v.id for v in graph.vertices)
    assert nx.is_directed_acyclic_graph(dag)
    inputs = [v for v in graph.vertices if v.kind == "input"]
    assert [v.id for v in inputs] == [py for py, _ in block.graph.inputs]
    output = graph.vertex("output")
    assert output.kind == "output"
    assert output.shape == "[" + ", ".join(str(d) for d in block.result) + "]"
    for vertex in graph.vertices:
        assert nx.has_path(dag, vertex.id, "output"), vertex
        assert any(nx.has_path(dag, i.id, vertex.id) for i in inputs), vertex


def test_sase_is_figure_1_of_the_paper():
    """SASE, seed 000, Figure 1: a channel squeeze read by two channel excitations; one
    spatial squeeze of x and one of x gated by the second channel excitation; the two
    concatenated, 1x1 conv, BN, ReLU, then the spatial excitation."""
    graph = block_graph(_space("sase"))
    assert _searched(graph) == {
        "s_ch": ("x", "s_ch"),
        "e_ch1": ("s_ch", "e_ch1"),
        "e_ch2": ("s_ch", "e_ch2"),
        "s_sp1": ("x", "s_sp1"),
        "s_sp2": ("×", "s_sp2"),
        "e_sp": ("combined", "e_sp"),
    }
    combined = next(v for v in graph.vertices if v.name == "combined")
    assert combined.steps == ("concat", "conv2d(out=1)", "bn", "relu")
    assert combined.shape == "[B, 1, H, W]"
    gate = next(v for v in graph.vertices if v.steps == ("×",))
    readers_of = {graph.vertex(a.source).name for a in graph.arcs if a.target == gate.id}
    assert readers_of == {"x", "e_ch2"}
    # x * (a_ch1 + a_sp) / 2
    last = next(a.source for a in graph.arcs if a.target == "output")
    assert graph.vertex(last).steps == ("×", "÷ 2")
    into_last = sorted(_describe(graph.vertex(a.source)) for a in graph.arcs if a.target == last)
    assert into_last == ["+", "x"]


def test_hoga_is_eq_2_of_autola():
    """AutoLA, seed 001, eq. 2: U_k = o_kk(F_k) + sum_{j<k} o_jk(U_j): an arc from F[k] or
    U[j] straight into U[k], which sums them; no vertex for the o[j, k] themselves."""
    k = 4  # the K the paper searches (its genotype `paper` is for K = 4)
    graph = block_graph(_space("hoga"))
    expected = {
        f"o[{j}, {i}]": (f"F[{i}]" if j == i else f"U[{j}]", f"U[{i}]")
        for i in range(k)
        for j in range(i + 1)
    }
    assert _searched(graph) == expected
    assert not [v for v in graph.vertices if v.name and v.name.startswith("o[")]
    for i in range(1, k):
        assert next(v for v in graph.vertices if v.name == f"U[{i}]").steps == ("+",)
    split = next(v for v in graph.vertices if v.name == "F")
    assert split.steps == ("split(parts=K)",)
    parts = sorted(graph.vertex(a.target).name for a in graph.arcs if a.source == split.id)
    assert parts == [f"F[{i}]" for i in range(k)]
    # eq. 3: [U_0; ...; U_{K-1}; sum_k U_k] through a 1x1 conv, then phi
    merged = next(v for v in graph.vertices if v.name == "merged")
    assert merged.steps == ("concat", "conv2d(out=C)")
    into_merged = sorted(
        _describe(graph.vertex(a.source)) for a in graph.arcs if a.target == merged.id
    )
    assert into_merged == sorted([f"U[{i}]" for i in range(k)] + ["sum"])
    last = next(a.source for a in graph.arcs if a.target == "output")
    assert graph.vertex(last).steps == ("channel_attn(reduction=reduction)",)


def test_an_edge_result_read_twice_keeps_its_vertex():
    graph = block_graph(_space("sase"))
    s_ch = next(v for v in graph.vertices if v.name == "s_ch")
    assert s_ch.kind == "tensor" and s_ch.shape == "[B, C, 1, 1]"
    assert len([a for a in graph.arcs if a.source == s_ch.id]) == 2


def test_a_library_has_no_block_to_draw():
    space = check_file(ROOT / "spaces" / "lib" / "attention.space").space
    with pytest.raises(ValueError, match="no block"):
        block_graph(space)
