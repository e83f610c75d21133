"""Kept for imports written before diagnostics moved to the bottom layer
(sedsl.diagnostics)."""

from sedsl.diagnostics.diagnostic import Diagnostic, Diagnostics, Label, Severity

__all__ = ["Diagnostic", "Diagnostics", "Label", "Severity"]
