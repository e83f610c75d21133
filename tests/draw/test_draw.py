"""The drawn picture: no box over another and no arc through a box, SVG and PNG, genotype
and run overlays, `sedsl graph`'s errors, and the README's picture up to date."""

from __future__ import annotations

import hashlib
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import matplotlib
import pytest
from click.testing import CliRunner

from sedsl.check.checker import check_file
from sedsl.cli import main
from sedsl.draw import draw_space
from sedsl.draw.draw import place
from sedsl.draw.model import block_graph
from sedsl.draw.overlay import ALPHAS, GENOTYPE, DrawError, overlay

ROOT = Path(__file__).resolve().parents[2]
README_PICTURE = ROOT / "docs" / "img" / "sase.svg"


def _space(name: str):
    return check_file(ROOT / "spaces" / f"{name}.space").space


def _rect(box, inset: float = 0.0):
    return (
        box.x - box.width / 2 + inset,
        box.y - box.height / 2 + inset,
        box.x + box.width / 2 - inset,
        box.y + box.height / 2 - inset,
    )


def _segment_hits(a, b, rect) -> bool:
    """Liang-Barsky: does the segment a-b pass through the rectangle's inside?"""
    x0, y0, x1, y1 = rect
    dx, dy = b[0] - a[0], b[1] - a[1]
    low, high = 0.0, 1.0
    for p, q in ((-dx, a[0] - x0), (dx, x1 - a[0]), (-dy, a[1] - y0), (dy, y1 - a[1])):
        if p == 0:
            if q < 0:
                return False
            continue
        t = q / p
        if p < 0:
            low = max(low, t)
        else:
            high = min(high, t)
        if low > high:
            return False
    return True


@pytest.mark.parametrize("name", ["sase", "hoga", "hoga_se", "sase_code"])
def test_no_box_overlaps_another_and_no_arc_crosses_a_box(name):
    graph = block_graph(_space(name))
    placed = place(graph)
    boxes = list(placed.boxes.values())
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            ax0, ay0, ax1, ay1 = _rect(a)
            bx0, by0, bx1, by1 = _rect(b)
            assert ax1 <= bx0 or bx1 <= ax0 or ay1 <= by0 or by1 <= ay0, (a.id, b.id)
    for arc, route in zip(graph.arcs, placed.routes, strict=True):
        own = {arc.source, arc.target, route.label}
        points = [*route.points, route.arrow_to]
        for box in boxes:
            if box.id in own:
                continue
            for p, q in zip(points, points[1:], strict=False):
                assert not _segment_hits(p, q, _rect(box, inset=0.5)), (arc, box.id)
        assert all(0 <= x <= placed.width and 0 <= y <= placed.height for x, y in points)


def test_svg_and_png_are_written(tmp_path):
    svg = draw_space(ROOT / "spaces" / "sase.space", tmp_path / "sase.svg")
    root = ET.parse(svg).getroot()
    assert root.tag.endswith("svg")
    assert float(root.get("width").removesuffix("pt")) > 100
    png = draw_space(ROOT / "spaces" / "hoga.space", tmp_path / "hoga.png", genotype="paper")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(tmp_path.glob(".*"))  # written atomically, no temporary left


def test_the_run_file_names_are_the_searchs():
    from sedsl.search import outputs

    assert (ALPHAS, GENOTYPE) == (outputs.ALPHAS, outputs.GENOTYPE)


def _fake_run(tmp_path: Path, space, top: dict[str, int], sha: str | None = None) -> Path:
    """A run directory as sedsl search writes one (sedsl/search/loop.py): alphas.jsonl with
    one snapshot per epoch, genotype.json with the argmax choices."""
    run = tmp_path / "run"
    run.mkdir()
    candidates = {
        e.py: [c.label for c in space.opset(e.opset).candidates] for e in space.block.edges
    }
    snapshots = []
    for epoch in (1, 2):
        weights = {}
        for edge, names in candidates.items():
            raw = [1.0] * len(names)
            raw[top.get(edge, 0)] = 1.0 + 2 * epoch
            weights[edge] = [v / sum(raw) for v in raw]
        snapshots.append({"epoch": epoch, "weights": weights})
    (run / ALPHAS).write_text("".join(json.dumps(s) + "\n" for s in snapshots))
    record = {
        "format": 1,
        "space": space.name,
        "source_sha256": sha or space.source_sha256,
        "genotype": {e: candidates[e][top.get(e, 0)] for e in candidates},
        "alphas": snapshots[-1]["weights"],
    }
    (run / GENOTYPE).write_text(json.dumps(record))
    return run


def test_run_weights_are_the_last_snapshot_and_its_genotype_is_chosen(tmp_path):
    space = _space("sase")
    run = _fake_run(tmp_path, space, {"s_ch": 4, "e_sp": 3})
    shown = overlay(space, None, run)
    assert shown.chosen["s_ch"] == "gap_gmp" and shown.chosen["e_sp"] == "conv2d_x2"
    assert shown.weights["s_ch"][4] == pytest.approx(5 / 11)  # epoch 2: (1 + 4) / (6 + 5)
    assert sum(shown.weights["e_ch1"]) == pytest.approx(1.0)
    declared = overlay(space, "paper", run)
    assert declared.chosen["e_ch2"] == "affine"  # --genotype wins over the run's own
    assert declared.weights == shown.weights
    out = draw_space(ROOT / "spaces" / "sase.space", tmp_path / "run.png", run=run)
    assert out.stat().st_size > 1000


def test_a_genotype_json_is_read_and_checked(tmp_path):
    space = _space("sase")
    run = _fake_run(tmp_path, space, {"s_sp2": 3})
    assert overlay(space, str(run / GENOTYPE), None).chosen["s_sp2"] == "lp"
    record = json.loads((run / GENOTYPE).read_text())
    record["genotype"]["s_ch"] = "fc"
    (run / GENOTYPE).write_text(json.dumps(record))
    with pytest.raises(DrawError, match="`s_ch = fc` is not a candidate"):
        overlay(space, str(run / GENOTYPE), None)


@pytest.mark.parametrize(
    ("spoil", "message"),
    [
        ("sha", "another version of space `sase`"),
        ("space", "is of space `hoga`, not `sase`"),
        ("empty", "is empty: the run finished no epoch"),
        ("short", "do not match its 7 candidates"),
    ],
)
def test_a_run_that_does_not_fit_the_space_is_refused(tmp_path, spoil, message):
    space = _space("sase")
    run = _fake_run(tmp_path, space, {}, sha="0" * 64 if spoil == "sha" else None)
    if spoil == "space":
        record = json.loads((run / GENOTYPE).read_text())
        (run / GENOTYPE).write_text(json.dumps({**record, "space": "hoga"}))
    if spoil == "empty":
        (run / ALPHAS).write_text("")
    if spoil == "short":
        lines = (run / ALPHAS).read_text().splitlines()
        last = json.loads(lines[-1])
        last["weights"]["s_ch"] = last["weights"]["s_ch"][:3]
        (run / ALPHAS).write_text("\n".join([*lines[:-1], json.dumps(last)]) + "\n")
    with pytest.raises(DrawError, match=re.escape(message)):
        overlay(space, None, run)


def test_the_cli_draws_and_says_what_it_wrote(tmp_path):
    out = tmp_path / "b.svg"
    result = CliRunner().invoke(
        main, ["graph", str(ROOT / "spaces" / "sase.space"), "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"wrote {out}"
    assert out.is_file()


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["spaces/sase.space", "-o", "{tmp}/b.jpg"], 2, "must be one of .svg, .png, .pdf"),
        (["spaces/sase.space", "-o", "{tmp}/no/b.svg"], 2, "no folder"),
        (["spaces/sase.space", "-o", "{tmp}/b.svg", "--genotype", "nope"], 2, "no genotype `nope`"),
        (["spaces/sase.space", "-o", "{tmp}/b.svg", "--run", "{tmp}"], 2, "not a search run"),
        (["spaces/lib/attention.space", "-o", "{tmp}/b.svg"], 2, "a library (no block)"),
        (["spaces/missing.space", "-o", "{tmp}/b.svg"], 2, "cannot read"),
        (["spaces/hoga.space", "-o", "{tmp}/b.svg", "--set", "K=2"], 1, "error[E050]"),
    ],
)
def test_cli_errors_are_one_clear_message(tmp_path, monkeypatch, args, code, message):
    monkeypatch.chdir(ROOT)
    argv = ["graph", *(a.replace("{tmp}", str(tmp_path)) for a in args)]
    result = CliRunner().invoke(main, argv)
    assert result.exit_code == code, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert not list(tmp_path.glob("*.svg"))


def test_the_readme_picture_is_the_one_sedsl_draws(tmp_path):
    """Regenerate with: sedsl graph spaces/sase.space -o docs/img/sase.svg --genotype paper"""
    readme = (ROOT / "README.md").read_text()
    assert "sedsl graph spaces/sase.space -o docs/img/sase.svg --genotype paper" in readme
    assert '<img src="docs/img/sase.svg"' in readme
    committed = README_PICTURE.read_text()
    drawn_by = re.search(r"Matplotlib v([\d.]+)", committed).group(1)
    fresh = draw_space(ROOT / "spaces" / "sase.space", tmp_path / "sase.svg", genotype="paper")
    if drawn_by != matplotlib.__version__:
        pytest.skip(
            f"the picture was drawn by matplotlib {drawn_by}, this is {matplotlib.__version__}"
        )
    digest = hashlib.sha256(fresh.read_bytes()).hexdigest()
    assert digest == hashlib.sha256(README_PICTURE.read_bytes()).hexdigest(), (
        "docs/img/sase.svg is stale: sedsl graph spaces/sase.space -o docs/img/sase.svg "
        "--genotype paper"
    )
