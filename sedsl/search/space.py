"""Load a generated space package (``generated/<space>/``) by path.

The generated directory is imported as a uniquely named package so that its modules may use
relative imports (``from .ops import ...``) and two spaces with the same module names can be
loaded side by side in one process.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from sedsl.reasons import reason

from .errors import SearchError

REQUIRED_FILES = ("supernet.py", "fixed.py", "space.json")
SUPERNET_NAMES = ("EDGES", "CANDIDATES", "Alphas", "SupernetBlock")
FIXED_NAMES = ("GENOTYPES", "build_fixed")


@dataclass(frozen=True)
class LoadedSpace:
    """A generated space: its directory, parsed manifest and imported modules."""

    path: Path
    manifest: dict[str, Any]
    supernet: ModuleType
    fixed: ModuleType

    @property
    def name(self) -> str:
        return str(self.manifest["space"])

    @property
    def source_sha256(self) -> str:
        return str(self.manifest.get("source_sha256", ""))

    @property
    def edges(self) -> tuple[str, ...]:
        return tuple(self.supernet.EDGES)

    @property
    def candidates(self) -> dict[str, tuple[str, ...]]:
        return {edge: tuple(names) for edge, names in self.supernet.CANDIDATES.items()}

    @property
    def recipe(self) -> dict[str, Any]:
        return dict(self.manifest.get("recipe") or {})

    @property
    def point_dims(self) -> list[dict[str, Any]]:
        """Dims the space takes from its insertion point beyond the block input's C, H, W
        (`dim Cin = C` in the space): name, keyword of `build_fixed` / `SupernetBlock`,
        default (None: the insertion point must provide it)."""
        return list(self.manifest.get("dims") or ())

    def dim_kwargs(self, provided: Mapping[str, int], where: str) -> dict[str, int]:
        """The keywords that give the block the dims it names, from those `where` provides;
        a dim with a default that `where` does not provide takes its default."""
        missing = [
            str(d["name"])
            for d in self.point_dims
            if d["name"] not in provided and d.get("default") is None
        ]
        if missing:
            raise SearchError(
                f"space {self.name} names the dimension {', '.join(missing)}, which {where} "
                f"does not provide (it provides {', '.join(provided) or 'nothing'})"
            )
        return {
            str(d["arg"]): int(provided[d["name"]])
            for d in self.point_dims
            if d["name"] in provided
        }


def load_space(path: str | Path) -> LoadedSpace:
    """Import ``supernet.py`` and ``fixed.py`` of a generated space and parse ``space.json``."""
    root = Path(path).resolve()
    if not root.is_dir():
        raise SearchError(
            f"{path}: not a directory; expected a generated space such as generated/sase"
        )
    missing = [name for name in REQUIRED_FILES if not (root / name).is_file()]
    if missing:
        raise SearchError(
            f"{path}: not a generated space (missing {', '.join(missing)}); "
            "run `sedsl generate spaces/<name>.space -o generated/` first"
        )
    manifest = _read_manifest(root / "space.json")
    package = _import_package(root)
    supernet = _import_submodule(package, root, "supernet")
    fixed = _import_submodule(package, root, "fixed")
    _require_names(root / "supernet.py", supernet, SUPERNET_NAMES)
    _require_names(root / "fixed.py", fixed, FIXED_NAMES)
    _check_manifest_agrees(root, manifest, supernet)
    return LoadedSpace(path=root, manifest=manifest, supernet=supernet, fixed=fixed)


def _read_manifest(path: Path) -> dict[str, Any]:
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise SearchError(f"{path}: cannot read the space manifest: {reason(err)}") from err
    if not isinstance(manifest, dict) or "space" not in manifest or "edges" not in manifest:
        raise SearchError(f"{path}: not a sedsl space manifest (needs 'space' and 'edges')")
    return manifest


def _package_name(root: Path) -> str:
    # Unique per directory, so reloading another space never returns a cached module.
    digest = hashlib.sha256(str(root).encode()).hexdigest()[:12]
    return f"_sedsl_space_{root.name}_{digest}".replace("-", "_")


def _import_package(root: Path) -> ModuleType:
    name = _package_name(root)
    if name in sys.modules:
        return sys.modules[name]
    init = root / "__init__.py"
    if init.is_file():
        spec = importlib.util.spec_from_file_location(
            name, init, submodule_search_locations=[str(root)]
        )
    else:
        spec = importlib.util.spec_from_loader(name, loader=None, is_package=True)
        if spec is not None:
            spec.submodule_search_locations = [str(root)]
    if spec is None:
        raise SearchError(f"{root}: cannot import as a package")
    package = importlib.util.module_from_spec(spec)
    sys.modules[name] = package
    try:
        if spec.loader is not None:
            spec.loader.exec_module(package)
    except Exception as err:
        del sys.modules[name]
        raise SearchError(f"{init}: import failed: {type(err).__name__}: {err}") from err
    return package


def _import_submodule(package: ModuleType, root: Path, module: str) -> ModuleType:
    try:
        return importlib.import_module(f"{package.__name__}.{module}")
    except SearchError:
        raise
    except Exception as err:
        raise SearchError(
            f"{root / (module + '.py')}: import failed: {type(err).__name__}: {err}; "
            "regenerate the space with `sedsl generate`"
        ) from err


def _require_names(path: Path, module: ModuleType, names: tuple[str, ...]) -> None:
    missing = [name for name in names if not hasattr(module, name)]
    if missing:
        raise SearchError(
            f"{path}: missing {', '.join(missing)} required by docs/generated-interface.md"
        )


def _check_manifest_agrees(root: Path, manifest: dict[str, Any], supernet: ModuleType) -> None:
    # space.json and supernet.py come from one generation; a mismatch means a stale directory.
    listed = [edge["name"] for edge in manifest["edges"]]
    if tuple(listed) != tuple(supernet.EDGES):
        raise SearchError(
            f"{root}: space.json edges {listed} differ from supernet.EDGES {list(supernet.EDGES)}; "
            "regenerate the space"
        )
