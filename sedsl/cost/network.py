"""A backbone with one attention block at each insertion point, for costing.

CIFAR ResNet-20/32/56 and torchvision ResNet-18/50/101 come from sedsl/search/backbones.py
(the block after the last BN of each residual block, as search and train place it).
RegNetY-800MF is torchvision's `regnet_y_800mf`, which already carries an SE module at
`block.f.se` of each of its 14 blocks: the block *replaces* that SE, the TSE paper's setting
(Table 1 compares SE with TSE in the same slot). Any space goes in that slot, not only TSE:
RegNetY is RegNetX plus attention in that place, so replacing it is the like-for-like
comparison, and keeping SE next to another block would count attention twice.

The (C, H, W) reaching each insertion point is measured by a forward pass on the meta
device, never computed by hand.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from sedsl.search import backbones
from sedsl.search.backbones import CIFAR_DEPTHS, TORCHVISION_NAMES, build_backbone

Shape = tuple[int, int, int]
BlockFactory = Callable[[int, int, int], nn.Module]

REGNET_NAMES = ("regnety800mf",)
BACKBONES = (*CIFAR_DEPTHS, *TORCHVISION_NAMES, *REGNET_NAMES)


class BackboneError(ValueError):
    """An unknown backbone name."""


@dataclass
class Network:
    model: nn.Module
    blocks: list[tuple[Shape, nn.Module]]  # (C, H, W) and the block built for it, in order


def default_input_size(name: str) -> int:
    return 32 if name in CIFAR_DEPTHS else 224


def default_num_classes(name: str) -> int:
    return 10 if name in CIFAR_DEPTHS else 1000


def build_network(
    name: str, factory: BlockFactory | None, input_size: int, num_classes: int
) -> Network:
    """`name` with `factory(C, H, W)` at every insertion point (None: the plain network,
    for RegNet with its SE removed, the paper's "Vanilla" row)."""
    if name not in BACKBONES:
        raise BackboneError(f"unknown backbone {name!r}; choose one of {', '.join(BACKBONES)}")
    blocks: list[tuple[Shape, nn.Module]] = []

    def recording(c: int, h: int, w: int) -> nn.Module:
        block = factory(c, h, w) if factory is not None else nn.Identity()
        blocks.append(((c, h, w), block))
        return block

    if name in REGNET_NAMES:
        model = _regnet(name, recording, input_size, num_classes)
    else:
        model = build_backbone(
            name, recording, num_classes=num_classes, input_size=(input_size, input_size)
        )
    return Network(model, blocks)


def insertion_points(name: str, input_size: int) -> list[Shape]:
    """(C, H, W) reaching each insertion point of `name`, measured on the meta device."""
    if name not in BACKBONES:
        raise BackboneError(f"unknown backbone {name!r}; choose one of {', '.join(BACKBONES)}")
    if name in REGNET_NAMES:
        return _se_shapes(_regnet_plain(name, 10).to("meta").eval(), input_size)
    return backbones.insertion_points(name, (input_size, input_size))


# ---- RegNetY ------------------------------------------------------------------------------


def _regnet(name: str, factory: BlockFactory, input_size: int, num_classes: int) -> nn.Module:
    shapes = insertion_points(name, input_size)
    model = _regnet_plain(name, num_classes)
    for transform, shape in zip(_se_slots(model), shapes, strict=True):
        transform.se = factory(*shape)
    return model


def _regnet_plain(name: str, num_classes: int) -> nn.Module:
    import torchvision

    # torchvision computes the block widths with torch ops, so it cannot be built under
    # torch.device("meta"); it builds on the CPU (a tenth of a second) and moves
    assert name == "regnety800mf"
    return torchvision.models.regnet_y_800mf(weights=None, num_classes=num_classes)


def _se_slots(model: nn.Module) -> list[nn.Module]:
    """The `f` (BottleneckTransform) of every block that has an SE, in forward order."""
    from torchvision.models.regnet import BottleneckTransform

    return [m for m in model.modules() if isinstance(m, BottleneckTransform) and hasattr(m, "se")]


def _se_shapes(meta: nn.Module, input_size: int) -> list[Shape]:
    """(C, H, W) entering each SE of a network on the meta device."""
    shapes: list[Shape] = []
    for t in _se_slots(meta):
        t.se.register_forward_hook(lambda _m, inputs, _o: shapes.append(tuple(inputs[0].shape[1:])))
    with torch.no_grad():
        meta(torch.empty(1, 3, input_size, input_size, device="meta"))
    return shapes
