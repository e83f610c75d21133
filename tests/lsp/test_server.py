"""`sedsl lsp` driven by pygls' own client, in process: the server runs in a thread and the
two talk LSP (JSON-RPC with Content-Length headers) over a pair of OS pipes. Open a file
with an error and its diagnostics arrive, with the codes and spans `sedsl check` reports;
change it and they update; hover shows shapes and signatures; definition goes to ops, op
sets, nodes and imports, shipped libraries included."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from lsprotocol import types
from pygls.io_ import StdinAsyncReader, StdoutWriter, run_async
from pygls.lsp.client import BaseLanguageClient
from pygls.uris import from_fs_path

from sedsl.lsp.server import make_server
from sedsl.resources import LIBRARY_DIR

ROOT = Path(__file__).resolve().parents[2]

LIB = """\
## A squeeze of the user's own.
op squeeze_mean(x: [B, C, H, W]) -> [B, C, 1, 1] = avg_pool(x)
"""

SPACE = """\
space gate "A channel gate"

import "sedsl:attention"
import "mylib.space"

param reduction: int = 8

## Squeezes to choose from.
opset squeeze(x: [B, C, H, W]) -> [B, C, 1, 1] {
  gap,
  mean = squeeze_mean,
}

block gate(x: [B, C, H, W]) -> [B, C, H, W] {
  s = squeeze(x)
  e = fc(s, reduction=reduction)
  return x * sigmoid(e)
}

require C // reduction >= 1
check resnet20 (C, H, W) in [(16, 32, 32), (32, 16, 16), (64, 8, 8)]

genotype plain { s = gap }
"""

# the op set's declared result is wrong for every candidate: E025 at the signature
BROKEN = SPACE.replace("-> [B, C, 1, 1] {", "-> [B, C, 1] {")


def _pos(text: str, needle: str, offset: int = 0) -> types.Position:
    index = text.index(needle) + offset
    line = text.count("\n", 0, index)
    return types.Position(line, index - (text.rfind("\n", 0, index) + 1))


class Session:
    """A pygls client connected to an in-process `sedsl lsp` server."""

    def __init__(self):
        self.client = BaseLanguageClient("sedsl-test", "1")
        self.diagnostics: asyncio.Queue = asyncio.Queue()

        @self.client.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        def published(params: types.PublishDiagnosticsParams):
            self.diagnostics.put_nowait(params)

    async def __aenter__(self) -> Session:
        to_server_r, to_server_w = os.pipe()
        to_client_r, to_client_w = os.pipe()
        self.server = make_server()
        self.thread = threading.Thread(
            target=self.server.start_io,
            args=(os.fdopen(to_server_r, "rb"), os.fdopen(to_client_w, "wb")),
            daemon=True,
        )
        self.thread.start()
        self.client.protocol.set_writer(StdoutWriter(os.fdopen(to_server_w, "wb")))
        self.reader = os.fdopen(to_client_r, "rb")
        self.loop_task = asyncio.ensure_future(
            run_async(
                stop_event=self.client._stop_event,
                reader=StdinAsyncReader(self.reader),
                protocol=self.client.protocol,
            )
        )
        result = await self.client.initialize_async(
            types.InitializeParams(capabilities=types.ClientCapabilities())
        )
        caps = result.capabilities
        assert caps.hover_provider and caps.definition_provider
        self.client.initialized(types.InitializedParams())
        return self

    async def __aexit__(self, *exc) -> None:
        await self.client.shutdown_async(None)
        self.client.exit(None)
        await asyncio.get_running_loop().run_in_executor(None, self.thread.join, 10)
        assert not self.thread.is_alive(), "the server did not exit"
        self.client._stop_event.set()
        await asyncio.wait_for(self.loop_task, 10)

    async def next_diagnostics(self, uri: str) -> list[types.Diagnostic]:
        while True:
            params = await asyncio.wait_for(self.diagnostics.get(), 20)
            if params.uri == uri:
                return list(params.diagnostics)

    def open(self, path: Path, text: str) -> str:
        uri = from_fs_path(str(path))
        item = types.TextDocumentItem(uri=uri, language_id="space", version=1, text=text)
        self.client.text_document_did_open(types.DidOpenTextDocumentParams(item))
        return uri

    def change(self, uri: str, text: str, version: int) -> None:
        self.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                types.VersionedTextDocumentIdentifier(version=version, uri=uri),
                [types.TextDocumentContentChangeWholeDocument(text=text)],
            )
        )

    async def hover(self, uri: str, position: types.Position) -> str | None:
        params = types.HoverParams(types.TextDocumentIdentifier(uri), position)
        result = await self.client.text_document_hover_async(params)
        return result.contents.value if result else None

    async def definition(self, uri: str, position: types.Position):
        params = types.DefinitionParams(types.TextDocumentIdentifier(uri), position)
        result = await self.client.text_document_definition_async(params)
        return result[0] if isinstance(result, list) else result


@pytest.fixture
def folder(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("SEDSL_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "mylib.space").write_text(LIB, encoding="utf-8")
    return tmp_path


def _check_json(path: Path, cwd: Path, monkeypatch) -> list[dict]:
    """What `sedsl check --format json FILE` says, run from the file's folder."""
    from click.testing import CliRunner

    from sedsl.cli import main

    monkeypatch.chdir(cwd)
    result = CliRunner().invoke(main, ["check", "--format", "json", path.name])
    assert result.exit_code in (0, 1), result.output
    return json.loads(result.output)["diagnostics"]


_SEVERITY = {"error": types.DiagnosticSeverity.Error, "warning": types.DiagnosticSeverity.Warning}

VARIANTS = {
    # the op set's declared result is wrong for every candidate: E025 at the signature
    "shape": ("-> [B, C, 1, 1] {", "-> [B, C, 1] {"),
    "syntax": ("e = fc(s,", "e = fc(s,,"),
    "unknown name": ("sigmoid(e)", "sigmoid(ee)"),
    "unused op set": (
        "block gate",
        "opset spare(x: [B, C, H, W]) -> [B, C, H, W] {\n  identity,\n}\n\nblock gate",
    ),
    "fails at a point": ("reduction: int = 8", "reduction: int = 32"),
    "duplicate": ("param reduction: int = 8", "param reduction: int = 8\nparam reduction: int = 4"),
}


@pytest.mark.parametrize("variant", VARIANTS)
def test_diagnostics_are_sedsl_checks(folder, monkeypatch, variant):
    old, new = VARIANTS[variant]
    assert old in SPACE
    text = SPACE.replace(old, new)
    path = folder / "gate.space"
    path.write_text(text, encoding="utf-8")  # on disk too, for `sedsl check`
    expected = _check_json(path, folder, monkeypatch)
    assert expected

    def place(line, column, end_line, end_column):
        return (line, column, end_line, end_column)

    async def scenario():
        async with Session() as s:
            uri = s.open(path, text)
            got = await s.next_diagnostics(uri)
            assert len(got) == len(expected)
            for lsp, cli in zip(got, expected, strict=True):
                assert lsp.code == cli["code"] and lsp.source == "sedsl"
                assert lsp.message.startswith(cli["message"])
                severity = _SEVERITY[cli["severity"]]
                assert lsp.severity == severity
                r = lsp.range
                span = cli["span"]
                assert place(
                    r.start.line + 1, r.start.character + 1, r.end.line + 1, r.end.character + 1
                ) == place(span["line"], span["column"], span["end_line"], span["end_column"]), (
                    variant,
                    lsp,
                    cli,
                )
                related = [
                    (i.location.range.start.line + 1, i.message)
                    for i in lsp.related_information or ()
                ]
                assert related == [(lab["span"]["line"], lab["message"]) for lab in cli["labels"]]

    asyncio.run(scenario())


def test_diagnostics_follow_changes_to_the_unsaved_text(folder):
    path = folder / "gate.space"
    broken = SPACE.replace("-> [B, C, 1, 1] {", "-> [B, C, 1] {")
    path.write_text(broken, encoding="utf-8")

    async def scenario():
        async with Session() as s:
            uri = s.open(path, broken)
            assert "E025" in [d.code for d in await s.next_diagnostics(uri)]
            # the fix, typed but not saved: the server checks the editor's text
            s.change(uri, SPACE, 2)
            assert await s.next_diagnostics(uri) == []
            # and a new error: an unknown name, at its place
            s.change(uri, SPACE.replace("sigmoid(e)", "sigmoid(ee)"), 3)
            again = await s.next_diagnostics(uri)
            assert [d.code for d in again] == ["E010"]
            assert again[0].range.start == _pos(SPACE, "sigmoid(e)", len("sigmoid("))

    asyncio.run(scenario())


def test_hover_shows_shapes_and_signatures(folder):
    path = folder / "gate.space"

    async def scenario():
        async with Session() as s:
            uri = s.open(path, SPACE)
            assert await s.next_diagnostics(uri) == []
            on_s = await s.hover(uri, _pos(SPACE, "s = squeeze"))
            assert "s: [B, C, 1, 1]" in on_s and "op set `squeeze`" in on_s
            on_e = await s.hover(uri, _pos(SPACE, "sigmoid(e)", len("sigmoid(")))
            assert "e: [B, C, 1, 1]" in on_e
            on_x = await s.hover(uri, _pos(SPACE, "return x", len("return ")))
            assert "x: [B, C, H, W]" in on_x
            on_opset = await s.hover(uri, _pos(SPACE, "squeeze(x)"))
            assert "opset squeeze(x: [B, C, H, W]) -> [B, C, 1, 1]" in on_opset
            assert "`gap`, `mean`" in on_opset and "Squeezes to choose from." in on_opset
            on_op = await s.hover(uri, _pos(SPACE, "squeeze_mean"))
            assert "op squeeze_mean(x: [B, C, H, W]) -> [B, C, 1, 1]" in on_op
            assert "A squeeze of the user's own." in on_op
            on_fc = await s.hover(uri, _pos(SPACE, "fc(s"))
            assert "op fc(s: [B, C, 1, 1], reduction: int = 16" in on_fc
            on_param = await s.hover(uri, _pos(SPACE, "reduction=reduction", 10))
            assert "param reduction: int = 8" in on_param
            on_prim = await s.hover(uri, _pos(SPACE, "sigmoid"))
            assert "primitive op" in on_prim
            on_choice = await s.hover(uri, _pos(SPACE, "{ s = gap", len("{ s = ")))
            assert "gap = gap() -> [B, C, 1, 1]" in on_choice
            on_dim = await s.hover(uri, _pos(SPACE, "require C", len("require ")))
            assert "dim C" in on_dim and "`resnet20`: 16, 32, 64" in on_dim
            assert await s.hover(uri, _pos(SPACE, "A channel gate")) is None

    asyncio.run(scenario())


def test_definition_of_ops_opsets_nodes_and_imports(folder):
    path = folder / "gate.space"

    async def scenario():
        async with Session() as s:
            uri = s.open(path, SPACE)
            await s.next_diagnostics(uri)
            to_opset = await s.definition(uri, _pos(SPACE, "squeeze(x)"))
            assert to_opset.uri == uri and to_opset.range.start == _pos(SPACE, "opset squeeze")
            to_op = await s.definition(uri, _pos(SPACE, "squeeze_mean"))
            assert to_op.uri == from_fs_path(str(folder / "mylib.space"))
            assert to_op.range.start == _pos(LIB, "op squeeze_mean")
            to_node = await s.definition(uri, _pos(SPACE, "sigmoid(e)", len("sigmoid(")))
            assert to_node.range.start == _pos(SPACE, "e = fc")
            library = (LIBRARY_DIR / "attention.space").resolve()
            to_fc = await s.definition(uri, _pos(SPACE, "fc(s"))
            assert to_fc.uri == from_fs_path(str(library))
            lib_text = library.read_text(encoding="utf-8")
            assert to_fc.range.start == _pos(lib_text, "op fc(")
            to_shipped = await s.definition(uri, _pos(SPACE, "sedsl:attention"))
            assert to_shipped.uri == from_fs_path(str(library))
            to_relative = await s.definition(uri, _pos(SPACE, '"mylib.space"'))
            assert to_relative.uri == from_fs_path(str(folder / "mylib.space"))
            assert await s.definition(uri, _pos(SPACE, "sigmoid")) is None  # a primitive

    asyncio.run(scenario())


def test_an_error_in_an_imported_file_shows_on_its_import(folder):
    path = folder / "gate.space"
    lib_path = folder / "mylib.space"

    async def scenario():
        async with Session() as s:
            uri = s.open(path, SPACE)
            assert await s.next_diagnostics(uri) == []
            lib_uri = s.open(lib_path, LIB)
            await s.next_diagnostics(lib_uri)
            s.change(lib_uri, LIB.replace("avg_pool(x)", "avg_pool(y)"), 2)
            in_lib = await s.next_diagnostics(lib_uri)
            assert "E010" in [d.code for d in in_lib]  # (and E015: a library has no `space`)
            on_import = await s.next_diagnostics(uri)
            (d,) = [d for d in on_import if d.code == "E010"]
            assert d.range.start == _pos(SPACE, 'import "mylib.space"')
            assert d.message.startswith("in ") and "mylib.space:2:" in d.message
            assert d.related_information[0].location.uri == lib_uri

    asyncio.run(scenario())


def test_sedsl_lsp_is_a_command():
    result = subprocess.run(
        [sys.executable, "-m", "sedsl.cli", "lsp", "--help"],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0 and "language server" in result.stdout


def test_without_pygls_sedsl_lsp_says_what_to_install():
    code = "import sys; sys.modules['pygls'] = None; from sedsl.cli import main; main()"
    result = subprocess.run(
        [sys.executable, "-c", code, "lsp"],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    assert "needs pygls 2" in result.stderr and "pip install 'pygls>=2,<3'" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_internal_error_is_a_diagnostic_and_the_server_keeps_serving(folder, monkeypatch):
    import sedsl.lsp.server as server_module

    real = server_module.analyse
    calls = []

    def flaky(path, texts):
        calls.append(path)
        if len(calls) == 1:
            raise RuntimeError("boom")
        return real(path, texts)

    monkeypatch.setattr(server_module, "analyse", flaky)
    path = folder / "gate.space"

    async def scenario():
        async with Session() as s:
            uri = s.open(path, SPACE)
            (d,) = await s.next_diagnostics(uri)
            assert d.code == "internal" and "RuntimeError: boom" in d.message
            s.change(uri, BROKEN, 2)
            assert "E025" in [d.code for d in await s.next_diagnostics(uri)]

    asyncio.run(scenario())
