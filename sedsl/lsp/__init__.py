"""Editor support: `sedsl lsp`, a language server for .space files (server.py, on pygls),
over an analysis of the open file that needs no LSP library (analysis.py). The TextMate
grammar for highlighting is grammars/space.tmLanguage.json; docs/editor.md sets both up."""
