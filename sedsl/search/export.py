"""Export a searched genotype as one standalone .py file that imports torch only.

The file is the generated ``fixed.py`` of the space, verbatim, followed by the genotype and a
``build_searched(channels, height, width)`` that calls its ``build_fixed``. ``verify`` imports the
written file in a fresh interpreter where sedsl cannot be imported and runs a forward pass.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sedsl.reasons import read_text_file, reason

from . import outputs
from .errors import SearchError
from .space import LoadedSpace, load_space

APPENDIX = '''

# ---- appended by `sedsl export` -------------------------------------------------------------
# Searched genotype of space {space!r} ({how}).
SEARCHED_GENOTYPE: dict[str, str] = {genotype}


def build_searched(channels: int, height: int, width: int, **dims: int):
    """The searched attention block for a feature map of shape (B, channels, height, width);
    `dims` gives the space's insertion-point dims by keyword (e.g. cin=64), else defaults."""
    return build_fixed(SEARCHED_GENOTYPE, channels, height, width, **dims)
'''

NEEDS = """
# This genotype uses extern ops: building it imports this code, which must be importable
# wherever the file is used:
{needs}
"""

# Runs in the fresh interpreter: refuse any sedsl import, load the file, run one forward pass.
VERIFY = r"""
import importlib.abc, importlib.util, sys
class NoSedsl(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "sedsl" or name.startswith("sedsl."):
            raise ImportError("sedsl is not importable here")
sys.meta_path.insert(0, NoSedsl())
path, c, h, w = sys.argv[1], *map(int, sys.argv[2:5])
sys.path.extend(sys.argv[5:])  # where the users' code of extern ops is found
spec = importlib.util.spec_from_file_location("exported", path)
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
import torch
block = module.build_searched(c, h, w).eval()
x = torch.randn(2, c, h, w)
assert block(x).shape == x.shape, block(x).shape
print("ok")
"""


@dataclass(frozen=True)
class Exported:
    path: Path
    # extern op -> "package.module:attribute": user code the file imports when built
    needs: dict[str, str]


def export_genotype(
    genotype_json: str | Path,
    out_py: str | Path,
    *,
    space_dir: str | Path | None = None,
    verify: bool = True,
) -> Path:
    """Write ``out_py`` for the genotype in ``genotype_json`` (a search's genotype.json)."""
    return export_searched(genotype_json, out_py, space_dir=space_dir, verify=verify).path


def export_searched(
    genotype_json: str | Path,
    out_py: str | Path,
    *,
    space_dir: str | Path | None = None,
    verify: bool = True,
) -> Exported:
    """`export_genotype`, also saying which users' code (extern ops) the file imports."""
    record = read_genotype(genotype_json)
    space = load_space(space_dir or record["space_dir"])
    check_genotype(record, space)
    needs = extern_needs(space.manifest, record["genotype"])
    source = (space.path / "fixed.py").read_text(encoding="utf-8")
    how = f"order {record.get('order')}, hvp {record.get('hvp')}, seed {record.get('seed')}"
    appendix = APPENDIX.format(space=space.name, how=how, genotype=repr(dict(record["genotype"])))
    if needs:
        appendix += NEEDS.format(
            needs="\n".join(f"#   {t} (extern op {o})" for o, t in needs.items())
        )
    text = source.rstrip() + "\n" + appendix
    out = Path(out_py)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    if verify:
        verify_standalone(out, first_point(space), user_code=bool(needs))
    return Exported(out, needs)


def extern_needs(manifest: dict[str, Any], genotype: dict[str, str]) -> dict[str, str]:
    """The extern ops a block of `genotype` builds (in its fixed part or a chosen
    candidate), each with the code it imports."""
    needs = {}
    for op, use in (manifest.get("extern") or {}).items():
        chosen = any(genotype.get(edge) in labels for edge, labels in use["edges"].items())
        if use["block"] or chosen:
            needs[op] = use["target"]
    return needs


def read_genotype(path: str | Path) -> dict[str, Any]:
    try:
        record = json.loads(read_text_file(path))
    except (OSError, json.JSONDecodeError) as err:
        raise SearchError(f"{path}: cannot read the genotype: {reason(err)}") from err
    if not isinstance(record, dict) or not isinstance(record.get("genotype"), dict):
        raise SearchError(f"{path}: not a sedsl genotype.json (no 'genotype' mapping)")
    if isinstance(record.get("space_dir"), str):  # recorded relative to the file's folder
        record["space_dir"] = outputs.resolve_from(Path(path).parent, record["space_dir"])
    return record


def check_genotype(record: dict[str, Any], space: LoadedSpace) -> None:
    expected = record.get("source_sha256")
    if expected and expected != space.source_sha256:
        raise SearchError(
            f"the genotype was searched on another version of space {space.name!r} "
            f"(source {expected[:12]}, now {space.source_sha256[:12]}); search again"
        )
    candidates = space.candidates
    for edge, choice in record["genotype"].items():
        if choice not in candidates.get(edge, ()):
            raise SearchError(f"genotype: {edge} = {choice!r} is not a candidate of {space.name}")
    missing = set(candidates) - set(record["genotype"])
    if missing:
        raise SearchError(f"genotype: no choice for edges {', '.join(sorted(missing))}")


def first_point(space: LoadedSpace) -> tuple[int, int, int]:
    for points in (space.manifest.get("points") or {}).values():
        if points:
            return int(points[0]["C"]), int(points[0]["H"]), int(points[0]["W"])
    return 16, 8, 8


def verify_standalone(path: Path, point: tuple[int, int, int], user_code: bool = False) -> None:
    """Run the file in an isolated interpreter that cannot import sedsl; with `user_code`
    (extern ops) it sees this process's import path, where that code is found."""
    paths = [str(Path(p or ".").resolve()) for p in sys.path] if user_code else []
    with tempfile.TemporaryDirectory() as cwd:
        completed = subprocess.run(
            [sys.executable, "-I", "-c", VERIFY, str(path.resolve()), *map(str, point), *paths],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=300,
        )
    if completed.returncode != 0 or "ok" not in completed.stdout:
        raise SearchError(
            f"{path}: the exported module does not run on its own:\n{completed.stderr.strip()}"
        )
