"""The bottom layer: source spans, diagnostics and their codes. Everything above (shapes,
ops, language, check, codegen, cli) imports from here; this package imports nothing of
sedsl's own."""
