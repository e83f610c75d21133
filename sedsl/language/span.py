"""Kept for imports written before spans moved to the bottom layer (sedsl.diagnostics)."""

from sedsl.diagnostics.span import Span

__all__ = ["Span"]
