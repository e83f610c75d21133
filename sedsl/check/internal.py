"""An exception inside sedsl is a bug in sedsl, not the user's: it becomes an "internal error"
diagnostic (E900) on the file being worked on, and the command exits 3. The traceback goes to
stderr only when SEDSL_TRACEBACK=1 asks for it (for a bug report)."""

from __future__ import annotations

import os
import sys

from sedsl.diagnostics.codes import Code
from sedsl.diagnostics.diagnostic import Diagnostic, Severity
from sedsl.diagnostics.span import Span

INTERNAL_ERROR = Code.INTERNAL_ERROR
EXIT_INTERNAL = 3
MAX_DETAIL = 300  # an exception's text can hold a whole data structure


def internal_error(file: str, exc: BaseException, doing: str) -> Diagnostic:
    """The diagnostic for `exc`, raised while `doing` (a verb: "checking") `file`."""
    if os.environ.get("SEDSL_TRACEBACK") == "1":
        import traceback  # only for a bug report: every command imports this module

        traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
    detail = str(exc)
    if len(detail) > MAX_DETAIL:
        detail = detail[:MAX_DETAIL] + " ..."
    return Diagnostic(
        INTERNAL_ERROR,
        Severity.ERROR,
        f"internal error while {doing} `{file}`: {type(exc).__name__}"
        + (f": {detail}" if detail else ""),
        Span.point(file),
        notes=("this is a bug in sedsl; please report it, with this file",),
        help="run again with SEDSL_TRACEBACK=1 to print the traceback for the report",
    )


def is_internal(diagnostic: Diagnostic) -> bool:
    return diagnostic.code == INTERNAL_ERROR
