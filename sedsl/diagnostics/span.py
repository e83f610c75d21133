"""Source positions. Every AST node and every diagnostic carries a Span."""

from __future__ import annotations

from typing import NamedTuple


class Span(NamedTuple):
    """A half-open region of one source file; lines and columns count from 1.

    A named tuple rather than a frozen dataclass: the parser makes one for nearly every
    token, and a tuple is made, compared and hashed in C, where a frozen dataclass runs
    Python for each (its __init__ alone was a tenth of parsing)."""

    file: str
    line: int
    column: int
    end_line: int
    end_column: int
    start: int = 0  # character offsets, for slicing the source
    end: int = 0

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"

    @staticmethod
    def point(file: str, line: int = 1, column: int = 1, offset: int = 0) -> Span:
        return Span(file, line, column, line, column + 1, offset, offset + 1)

    def to(self, other: Span) -> Span:
        """The span from the start of self to the end of other."""
        return Span(
            self.file,
            self.line,
            self.column,
            other.end_line,
            other.end_column,
            self.start,
            other.end,
        )
