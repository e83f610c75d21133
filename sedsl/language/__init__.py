"""The .space language: parsing to an AST, and resolving the AST to the IR."""
