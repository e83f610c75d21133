"""No text in a .space file (or its path) becomes code: hostile names are rejected with E014, and
hostile docstrings reach generated files only as string constants."""

from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.codegen.helpers import run_sedsl

PAYLOAD = "\\n import os; os.system('touch PWNED')"
HOSTILE_DOC = f'ends """ early, a \\\\ backslash, {PAYLOAD} """ + os.system("x") + """'


def space_text(doc: str) -> str:
    """A valid space with `doc` as the doc comment of its op, op set, block and genotype."""
    n = {"op": "attn", "opset": "choice", "block": "blk", "genotype": "picked"}
    return f"""space hostile "{doc.replace('"', "'")}"

## {doc}
op {n["op"]}(x: [B, C, H, W]) -> [B, C, H, W] = x * sigmoid(avg_pool(x))

## {doc}
opset {n["opset"]}(x: [B, C, H, W]) -> [B, C, H, W] {{ {n["op"]}, identity }}

## {doc}
block {n["block"]}(x: [B, C, H, W]) -> [B, C, H, W] {{
  y = {n["opset"]}(x)
  return y
}}

check cifar (C, H, W) in [(16, 8, 8)]

## {doc}
genotype {n["genotype"]} {{ y = {n["op"]} }}
"""


HOSTILE_NAMES = """space hostile "names that must not become Python"
param lambda: int = 4
param __dict__: int = 4

op __init__(x: [B, C, H, W]) -> [B, C, H, W] = x
op class(x: [B, C, H, W]) -> [B, C, H, W] = x
op torch(x: [B, C, H, W]) -> [B, C, H, W] = x
op \u00e9(x: [B, C, H, W]) -> [B, C, H, W] = x

opset nn(x: [B, C, H, W]) -> [B, C, H, W] { __init__, class, torch, \u00e9, identity }

block self(x: [B, C, H, W]) -> [B, C, H, W] {
  __class__ = nn(x)
  return __class__
}
check cifar (C, H, W) in [(16, 8, 8)]
genotype def { __class__ = identity }
"""

EXPECTED_E014 = {
    ("parameter", "lambda"),
    ("parameter", "__dict__"),
    ("op", "__init__"),
    ("op", "class"),
    ("op", "torch"),
    ("op", "\u00e9"),
    ("op set", "nn"),
    ("candidate", "__init__"),
    ("candidate", "class"),
    ("candidate", "torch"),
    ("candidate", "\u00e9"),
    ("block", "self"),
    ("node", "__class__"),
    ("genotype", "def"),
}


def test_hostile_names_are_rejected_with_e014_and_nothing_is_written(tmp_path):
    path = tmp_path / "hostile.space"
    path.write_text(HOSTILE_NAMES, encoding="utf-8")
    result = run_sedsl("check", "--format", "json", str(path))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    found = set()
    for diagnostic in json.loads(result.stdout)["diagnostics"]:
        if diagnostic["code"] == "E014":
            kind, name = re.match(r"(.+) name `(.+)` cannot", diagnostic["message"]).groups()
            found.add((kind, name))
    assert found == EXPECTED_E014
    generated = run_sedsl("generate", str(path), "-o", str(tmp_path / "out"))
    assert generated.returncode == 1
    assert "E014" in generated.stderr and "Traceback" not in generated.stderr
    assert not (tmp_path / "out").exists()


def allowed_statement(node: ast.stmt) -> bool:
    """What a generated module may hold at top level: imports of torch / typing machinery,
    constants, classes, functions and annotated tables. No bare call."""
    if isinstance(node, ast.Import):
        return all(alias.name.split(".")[0] == "torch" for alias in node.names)
    if isinstance(node, ast.ImportFrom):
        return node.level == 1 or (node.module or "").split(".")[0] in (
            "__future__",
            "torch",
            "collections",
        )
    if isinstance(node, ast.Expr):
        return isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
    return isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AnnAssign | ast.Assign)


def test_hostile_docstrings_and_path_stay_strings(tmp_path):
    # a directory name that would close the header docstring if pasted in raw
    folder = tmp_path / 'd"""+__import__("os").system("touch PWNED")+"""'
    folder.mkdir()
    path = folder / "hostile.space"
    path.write_text(space_text(HOSTILE_DOC), encoding="utf-8")
    out = tmp_path / "out"
    result = run_sedsl("generate", str(path), "-o", str(out))
    assert result.returncode == 0, result.stdout + result.stderr

    docs = []
    for file in sorted((out / "hostile").glob("*.py")):
        source = file.read_text(encoding="utf-8")
        tree = ast.parse(source)
        for node in tree.body:
            assert allowed_statement(node), f"{file.name}: {ast.dump(node)[:200]}"
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                func = node.func
                assert not (isinstance(func, ast.Attribute) and func.attr == "system")
                assert not (isinstance(func, ast.Name) and func.id in ("__import__", "exec"))
            if isinstance(node, ast.Name):
                assert node.id != "os"
        for node in [tree, *ast.walk(tree)]:
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef):
                doc = ast.get_docstring(node, clean=False)
                if doc:
                    docs.append(doc)
    # the payload arrives as text, unchanged (modulo line wrapping)
    assert any(HOSTILE_DOC in " ".join(d.split("\n")) for d in docs), docs
    assert any(str(path) in d for d in docs)

    # and importing the generated package runs nothing
    shutil.copytree(out / "hostile", tmp_path / "run" / "hostile")
    imported = subprocess.run(
        [sys.executable, "-c", "import hostile.supernet, hostile.fixed"],
        cwd=tmp_path / "run",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert imported.returncode == 0, imported.stderr
    assert not list(Path(tmp_path).rglob("PWNED"))
