"""Where sedsl's own data lives: the grammar, the code templates and the shipped op libraries.

In a checkout (an editable install, or the repository on PYTHONPATH) they are the
top-level folders `grammars/`, `templates/` and `spaces/lib/`, one source of truth each.
An installed wheel carries the same folders as package data, `sedsl/grammars`,
`sedsl/templates` and `sedsl/lib` (setup.py maps those sub-packages onto the top-level
folders), found through importlib.resources. A space imports a shipped library by name:
`import "sedsl:attention"` reads `attention.space` from the library folder.
"""

from __future__ import annotations

from pathlib import Path

LIBRARY_SCHEME = "sedsl:"

_PACKAGE = Path(__file__).resolve().parent
_CHECKOUT = _PACKAGE.parent


def _data_dir(in_checkout: str, in_package: str) -> Path:
    source = _CHECKOUT / in_checkout
    if (_CHECKOUT / "pyproject.toml").is_file() and source.is_dir():
        return source
    from importlib.resources import files

    return Path(str(files("sedsl") / in_package))


GRAMMAR_PATH = _data_dir("grammars", "grammars") / "space.lark"
TEMPLATES_DIR = _data_dir("templates", "templates")
LIBRARY_DIR = _data_dir("spaces/lib", "lib")


def library_names() -> list[str]:
    """The names a space can import as `sedsl:NAME`."""
    return sorted(p.stem for p in LIBRARY_DIR.glob("*.space"))


def library_path(spec: str) -> Path | None:
    """`sedsl:NAME` -> the shipped library file; None when `spec` is not a library name."""
    if not spec.startswith(LIBRARY_SCHEME):
        return None
    name = spec[len(LIBRARY_SCHEME) :].removesuffix(".space")
    return LIBRARY_DIR / f"{name}.space"
