"""`sedsl lsp`: the language server, on pygls. It publishes the checker's diagnostics when
a file is opened, changed or saved, shows a node's symbolic shape or an op's signature on
hover, and goes to the definition of ops, op sets, params, nodes and imports. The work is
done by sedsl/lsp/analysis.py; this module turns it into LSP messages.

A diagnostic in an imported file is shown on the `import` that brings it in, with the
exact place as related information, so an error in a library is not silently missed.
"""

from __future__ import annotations

import traceback
from pathlib import Path

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.uris import from_fs_path, to_fs_path
from pygls.workspace import TextDocument
from pygls.workspace.position_codec import ServerTextPosition, ServerTextRange

from sedsl import __version__
from sedsl.diagnostics.diagnostic import Diagnostic, Severity
from sedsl.diagnostics.span import Span
from sedsl.language import ast
from sedsl.lsp.analysis import Analysis, analyse, definition, hover
from sedsl.resources import library_path

SOURCE = "sedsl"
_SEVERITY = {
    Severity.ERROR: types.DiagnosticSeverity.Error,
    Severity.WARNING: types.DiagnosticSeverity.Warning,
    Severity.NOTE: types.DiagnosticSeverity.Information,
}


class SpaceServer(LanguageServer):
    def __init__(self):
        super().__init__(
            "sedsl", __version__, text_document_sync_kind=types.TextDocumentSyncKind.Full
        )
        self.analyses: dict[str, Analysis] = {}  # by document URI

    def open_texts(self) -> dict[Path, str]:
        texts = {}
        for uri, doc in self.workspace.text_documents.items():
            path = to_fs_path(uri)
            if path is not None:
                texts[Path(path).resolve()] = doc.source
        return texts

    def check(self, uri: str) -> None:
        path = to_fs_path(uri)
        if path is None:
            return
        doc = self.workspace.get_text_document(uri)
        try:
            an = analyse(Path(path), self.open_texts())
            items = [self._diagnostic(an, doc, d) for d in an.diagnostics]
        except Exception as exc:  # a bug in sedsl: say so on the file, keep serving
            self.analyses.pop(uri, None)
            self.window_log_message(
                types.LogMessageParams(types.MessageType.Error, traceback.format_exc())
            )
            start = types.Position(0, 0)
            items = [
                types.Diagnostic(
                    range=types.Range(start, start),
                    message=f"internal error in sedsl ({type(exc).__name__}: {exc}); the "
                    "traceback is in the client's log: please report it with this file",
                    severity=types.DiagnosticSeverity.Error,
                    code="internal",
                    source=SOURCE,
                )
            ]
        else:
            self.analyses[uri] = an
        params = types.PublishDiagnosticsParams(uri=uri, diagnostics=[d for d in items if d])
        self.text_document_publish_diagnostics(params)

    # ---- diagnostics ------------------------------------------------------------------
    def _range(self, span: Span, doc: TextDocument | None = None) -> types.Range:
        start = ServerTextPosition(max(span.line - 1, 0), max(span.column - 1, 0))
        end = ServerTextPosition(max(span.end_line - 1, 0), max(span.end_column - 1, 0))
        if doc is None:
            doc = self.workspace.get_text_document(from_fs_path(str(Path(span.file).resolve())))
        return doc.range_to_client_units(ServerTextRange(start, end))

    def _location(self, an: Analysis, span: Span) -> types.Location:
        path = an.path_of(span)
        uri = from_fs_path(str(path))
        return types.Location(uri, self._range(span, self.workspace.get_text_document(uri)))

    def _diagnostic(self, an: Analysis, doc: TextDocument, d: Diagnostic):
        message = d.message
        if d.label:
            message += f" ({d.label})"
        message += "".join(f"\nnote: {n}" for n in d.notes)
        if d.help:
            message += f"\nhelp: {d.help}"
        related = [
            types.DiagnosticRelatedInformation(self._location(an, lab.span), lab.message)
            for lab in d.labels
            if lab.span.line > 0
        ]
        if d.span.file == an.display:
            where = self._range(d.span, doc)
        else:  # in an imported file: on the import that brings it in
            imp = _import_of(an, d.span.file)
            if imp is None:
                return None
            where = self._range(imp.span, doc)
            related.insert(
                0, types.DiagnosticRelatedInformation(self._location(an, d.span), message)
            )
            message = f"in {d.span.file}:{d.span.line}:{d.span.column}: {message}"
        return types.Diagnostic(
            range=where,
            message=message,
            severity=_SEVERITY[d.severity],
            code=d.code,
            source=SOURCE,
            related_information=related or None,
        )

    # ---- positions --------------------------------------------------------------------
    def position(self, uri: str, position: types.Position) -> tuple[Analysis, int, int] | None:
        an = self.analyses.get(uri)
        if an is None:
            return None
        doc = self.workspace.get_text_document(uri)
        at = doc.position_from_client_units(position)
        return an, at.line + 1, at.character + 1


def _import_of(an: Analysis, file: str) -> ast.Import | None:
    """The analysed file's import through which `file` was read (directly or not)."""
    module = an.module
    if module is None:
        return None
    target = an.paths.get(file)
    for decl in module.decls:
        if isinstance(decl, ast.Import) and target in _reachable(an, an.path, decl):
            return decl
    return None


def _reachable(an: Analysis, importer: Path, decl: ast.Import) -> set[Path]:
    by_path = {path: an.modules[display] for display, path in an.paths.items()}
    first = _import_target(importer, decl)
    seen, stack = set(), [first]
    while stack:
        path = stack.pop()
        if path in seen or path not in by_path:
            continue
        seen.add(path)
        stack.extend(
            _import_target(path, d) for d in by_path[path].decls if isinstance(d, ast.Import)
        )
    return seen


def _import_target(importer: Path, decl: ast.Import) -> Path:
    return (library_path(decl.path.value) or importer.parent / decl.path.value).resolve()


def make_server() -> SpaceServer:
    server = SpaceServer()

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: SpaceServer, params: types.DidOpenTextDocumentParams):
        ls.check(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: SpaceServer, params: types.DidChangeTextDocumentParams):
        changed = params.text_document.uri
        ls.check(changed)
        path = Path(to_fs_path(changed) or changed).resolve()
        for uri, an in list(ls.analyses.items()):  # open files that import it see the change
            if uri != changed and path in an.paths.values():
                ls.check(uri)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: SpaceServer, params: types.DidSaveTextDocumentParams):
        ls.check(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: SpaceServer, params: types.DidCloseTextDocumentParams):
        ls.analyses.pop(params.text_document.uri, None)
        ls.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(uri=params.text_document.uri, diagnostics=[])
        )

    @server.feature(types.TEXT_DOCUMENT_HOVER)
    def on_hover(ls: SpaceServer, params: types.HoverParams):
        found = ls.position(params.text_document.uri, params.position)
        text = hover(*found) if found else None
        if text is None:
            return None
        return types.Hover(types.MarkupContent(types.MarkupKind.Markdown, text))

    @server.feature(types.TEXT_DOCUMENT_DEFINITION)
    def on_definition(ls: SpaceServer, params: types.DefinitionParams):
        found = ls.position(params.text_document.uri, params.position)
        target = definition(*found) if found else None
        if target is None:
            return None
        path, span = target
        if span is None:
            start = types.Position(0, 0)
            return types.Location(from_fs_path(str(path)), types.Range(start, start))
        return ls._location(found[0], span)

    return server


def serve() -> None:
    """Speak LSP on stdin and stdout until the client says exit."""
    make_server().start_io()
