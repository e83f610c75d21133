"""Identifiers: which .space names may become Python names, and "did you mean" hints."""

from __future__ import annotations

import builtins
import keyword
import re
from functools import lru_cache

from sedsl.diagnostics.codes import Code

_ASCII_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")

# Names the generated code itself uses; a .space name equal to one would shadow it.
RESERVED = frozenset(
    {"self", "torch", "nn", "Tensor", "super", "math", "Mapping", "annotations"}
    | {"max", "min", "len", "sum", "range", "int", "float", "bool", "str", "dict", "tuple"}
    | {"print", "exec", "eval", "open", "object", "type", "list", "globals", "locals"}
)
_BUILTINS = frozenset(dir(builtins))  # once: dir() per name was a tenth of resolving


@lru_cache(maxsize=4096)  # the same few names (x, s, C) come back for every op and node
def python_name_problem(name: str) -> str | None:
    """Why `name` cannot become a Python identifier in generated code, or None if it can."""
    if not _ASCII_IDENTIFIER.match(name):
        return "it is not an ASCII identifier"
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        return "it is a Python keyword"
    if name.startswith("__") and name.endswith("__"):
        return "dunder names are reserved by Python"
    if name in RESERVED or name in _BUILTINS and name.startswith("_"):
        return "it would shadow a name the generated code uses"
    return None


def did_you_mean(name: str, candidates) -> str | None:
    import difflib  # only where a name is unknown: a clean check never needs it

    matches = difflib.get_close_matches(name, sorted(set(candidates)), n=1, cutoff=0.6)
    return f"did you mean `{matches[0]}`?" if matches else None


def class_name(name: str) -> str:
    """`gap_gmp` -> `GapGmp`; digits and case are kept: `conv1d_k3` -> `Conv1dK3`."""
    parts = [p for p in name.split("_") if p]
    return "".join(p[:1].upper() + p[1:] for p in parts) or "Op"


def indexed_py(name: str, indices: tuple[int, ...]) -> str:
    return name + "".join(f"_{i}" for i in indices)


def indexed_display(name: str, indices: tuple[int, ...]) -> str:
    return f"{name}[{', '.join(map(str, indices))}]" if indices else name


def check_python_name(diag, name: str, span, kind: str) -> None:
    """Report `name` (of a node, an input, a candidate, ...) if it cannot become Python."""
    if problem := python_name_problem(name):
        diag.error(
            Code.NOT_PYTHON_NAME,
            f"{kind} name `{name}` cannot become a Python name: {problem}",
            span,
            help="use an ASCII name that is not a Python keyword or builtin",
        )
