"""Cost of a genotype in a backbone: parameters, MACs and minimum pipeline buffer.

One job per module: `expr` reads the manifest's dim expressions, `network` builds the
backbone with the block inserted, `params`, `macs` and `buffer` measure, `report` puts
them together and renders. Imported lazily by the CLI (torch is heavy).
"""
