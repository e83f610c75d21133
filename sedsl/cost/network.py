"""A backbone with one attention block at each insertion point, for costing.

CIFAR ResNet-20/32/56 and torchvision ResNet-18/50/101 come from sedsl/search/backbones.py
(the block after the last BN of each residual block, as search and train place it). The SE
networks of `sedsl swap` (torchvision's RegNetY 400MF-3.2GF and EfficientNet B0-B3, named as
torchvision names them, e.g. `regnet_y_800mf`, or `regnety800mf`) already carry an SE module
in each block: the block *replaces* that SE, the TSE paper's setting (Table 1 compares SE
with TSE in the same slot), and a space's `se` genotype rebuilds torchvision's network
exactly. Any space goes in that slot, not only TSE: RegNetY is RegNetX plus attention in
that place, so replacing it is the like-for-like comparison, and keeping SE next to another
block would count attention twice.

The dimensions of each insertion point (C, H, W, and for the SE networks the block input
width Cin) are measured by a forward pass on the meta device, never computed by hand.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from torch import nn

from sedsl.search import backbones
from sedsl.search.backbones import CIFAR_DEPTHS, TORCHVISION_NAMES, build_backbone
from sedsl.swap.api import replace_module
from sedsl.swap.slots import measure_slots
from sedsl.swap.zoo import SE_NETWORKS, canonical_name, se_network

Shape = tuple[int, int, int]
Dims = Mapping[str, int]
BlockFactory = Callable[[Dims], nn.Module]

BACKBONES = (*CIFAR_DEPTHS, *TORCHVISION_NAMES, *SE_NETWORKS)


class BackboneError(ValueError):
    """An unknown backbone name."""


@dataclass
class Network:
    model: nn.Module
    blocks: list[tuple[Dims, nn.Module]]  # the point's dims and the block built there, in order


def canonical_backbone(name: str) -> str:
    if name in CIFAR_DEPTHS or name in TORCHVISION_NAMES:
        return name
    canonical = canonical_name(name)
    if canonical is None:
        raise BackboneError(f"unknown backbone {name!r}; choose one of {', '.join(BACKBONES)}")
    return canonical


def default_input_size(name: str) -> int:
    name = canonical_backbone(name)
    if name in CIFAR_DEPTHS:
        return 32
    return SE_NETWORKS[name].paper_size if name in SE_NETWORKS else 224


def default_num_classes(name: str) -> int:
    return 10 if name in CIFAR_DEPTHS else 1000


def build_network(
    name: str, factory: BlockFactory | None, input_size: int, num_classes: int
) -> Network:
    """`name` with `factory(dims)` at every insertion point (None: the plain network, for
    the SE networks with their SE removed, the paper's "Vanilla" row)."""
    name = canonical_backbone(name)
    blocks: list[tuple[Dims, nn.Module]] = []

    def recording(dims: Dims) -> nn.Module:
        block = factory(dims) if factory is not None else nn.Identity()
        blocks.append((dims, block))
        return block

    if name in SE_NETWORKS:
        model = se_network(name).build(num_classes)
        for slot in measure_slots(name, input_size, num_classes):
            replace_module(model, slot.name, recording(slot.dims))
    else:
        model = build_backbone(
            name,
            lambda c, h, w: recording({"C": c, "H": h, "W": w}),
            num_classes=num_classes,
            input_size=(input_size, input_size),
        )
    return Network(model, blocks)


def insertion_points(name: str, input_size: int) -> list[Shape]:
    """(C, H, W) reaching each insertion point of `name`, measured on the meta device."""
    name = canonical_backbone(name)
    if name in SE_NETWORKS:
        return [slot.shape for slot in measure_slots(name, input_size)]
    return backbones.insertion_points(name, (input_size, input_size))
