"""`sedsl swap`: replace the SE modules of a torchvision network with a genotype of a space.

`zoo` names the networks (RegNetY, EfficientNet), `slots` finds their SE modules and
measures each one's dimensions on the meta device, `carry` moves SE weights into the
replacement, `api` swaps, writes and reads a swapped network, `evaluate` scores networks
on an ImageFolder and `finetune` trains a swapped one (the TSE paper's "aw" and "ft").
Imported lazily by the CLI (torch is heavy).
"""
