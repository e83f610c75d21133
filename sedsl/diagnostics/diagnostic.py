"""Diagnostics are values: collected, sorted and rendered, never raised at the user."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from sedsl.diagnostics.codes import Code
from sedsl.diagnostics.span import Span
from sedsl.frozen import frozen


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"
    NOTE = "note"


@frozen
class Label:
    """A secondary span with a short message, drawn under its own source line."""

    span: Span
    message: str


@frozen
class Diagnostic:
    code: Code  # compares equal to its text, e.g. E010
    severity: Severity
    message: str
    span: Span
    label: str = ""  # text under the primary caret
    labels: tuple[Label, ...] = ()
    notes: tuple[str, ...] = ()
    help: str | None = None

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def sort_key(self) -> tuple:
        return (self.span.file, self.span.line, self.span.column, self.code, self.message)


@dataclass
class Diagnostics:
    """An append-only collection; passes add to it and keep going."""

    items: list[Diagnostic] = field(default_factory=list)
    _seen: set[Diagnostic] = field(default_factory=set, repr=False, compare=False)

    def add(self, diagnostic: Diagnostic) -> None:
        if diagnostic not in self._seen:  # a set: a file with 10^5 problems stays linear
            self._seen.add(diagnostic)
            self.items.append(diagnostic)

    def error(self, code: Code, message: str, span: Span, **details) -> None:
        self.add(Diagnostic(code, Severity.ERROR, message, span, **details))

    def warning(self, code: Code, message: str, span: Span, **details) -> None:
        self.add(Diagnostic(code, Severity.WARNING, message, span, **details))

    def extend(self, other: Diagnostics | list[Diagnostic]) -> None:
        for d in other.items if isinstance(other, Diagnostics) else other:
            self.add(d)

    @property
    def has_errors(self) -> bool:
        return any(d.is_error for d in self.items)

    def sorted(self) -> list[Diagnostic]:
        return sorted(self.items, key=Diagnostic.sort_key)

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self):
        return iter(self.items)
