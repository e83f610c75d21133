"""Backbones with an attention block after the last BN of every residual block.

CIFAR ResNet-20/32/56 follow He et al. 2016, section 4.2: 3 stages of n basic blocks with 16, 32, 64
channels, and the parameter-free option A shortcut (stride-2 subsampling plus zero-padded channels)
by default, which gives the paper's 0.27M parameters for ResNet-20; option B (1x1 conv + BN
projection where the shape changes) is available. torchvision ResNet-18/50/101 get the block by
wrapping ``bn2`` (basic) or ``bn3`` (bottleneck) as ``nn.Sequential(bn, block)``, which keeps the
state-dict names of the plain network's BN under ``.0``.

Every network is built in two passes: a plain network on the meta device records the (C, H, W) that
reaches each insertion point for the given input size, then the real network receives
``block_factory(C, H, W)`` at each point. The shapes are measured, never computed by hand.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .errors import SearchError

BlockFactory = Callable[[int, int, int], nn.Module]
Shape = tuple[int, int, int]

CIFAR_DEPTHS = {"resnet20": 3, "resnet32": 5, "resnet56": 9}
TORCHVISION_NAMES = ("resnet18", "resnet50", "resnet101")
BACKBONES = (*CIFAR_DEPTHS, *TORCHVISION_NAMES)


class ShortcutA(nn.Module):
    """He et al.'s option A: subsample by the stride and zero-pad the new channels."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.stride = stride
        self.extra = out_channels - in_channels

    def forward(self, x: Tensor) -> Tensor:
        x = x[:, :, :: self.stride, :: self.stride]
        half = self.extra // 2
        return F.pad(x, (0, 0, 0, 0, half, self.extra - half))


class CifarBasicBlock(nn.Module):
    def __init__(
        self, in_channels: int, out_channels: int, stride: int, shortcut: Literal["A", "B"]
    ) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.attention: nn.Module = nn.Identity()  # the insertion point
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = (
                ShortcutA(in_channels, out_channels, stride)
                if shortcut == "A"
                else nn.Sequential(
                    nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                    nn.BatchNorm2d(out_channels),
                )
            )

    def forward(self, x: Tensor) -> Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.attention(self.bn2(self.conv2(out)))
        return F.relu(out + self.shortcut(x))


class CifarResNet(nn.Module):
    def __init__(
        self,
        blocks_per_stage: int,
        num_classes: int = 10,
        width: int = 16,
        shortcut: Literal["A", "B"] = "A",
        in_channels: int = 3,
    ) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, width, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        stages, channels = [], width
        for index in range(3):
            out_channels = width * 2**index
            stride = 1 if index == 0 else 2
            blocks = []
            for block in range(blocks_per_stage):
                blocks.append(
                    CifarBasicBlock(channels, out_channels, stride if block == 0 else 1, shortcut)
                )
                channels = out_channels
            stages.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = stages
        self.fc = nn.Linear(channels, num_classes)
        self._init_weights()

    def _init_weights(self) -> None:
        # He et al. use the initialisation of their ref. [13] (Kaiming normal, fan-out).
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: Tensor) -> Tensor:
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def build_backbone(
    name: str,
    block_factory: BlockFactory | None = None,
    *,
    num_classes: int = 10,
    input_size: tuple[int, int] = (32, 32),
    width: int = 16,
    shortcut: Literal["A", "B"] = "A",
) -> nn.Module:
    """Build a backbone with ``block_factory(C, H, W)`` at every insertion point (None: plain)."""
    plain = _build_plain(name, num_classes, width, shortcut)
    if block_factory is None:
        return plain
    shapes = insertion_points(name, input_size, width=width, shortcut=shortcut)
    for (parent, attribute), shape in zip(_insertion_slots(plain), shapes, strict=True):
        block = block_factory(*shape)
        if attribute == "attention":
            setattr(parent, attribute, block)
        else:  # torchvision: keep the BN's state-dict names under index 0
            setattr(parent, attribute, nn.Sequential(getattr(parent, attribute), block))
    return plain


def insertion_points(
    name: str,
    input_size: tuple[int, int] = (32, 32),
    *,
    width: int = 16,
    shortcut: Literal["A", "B"] = "A",
) -> list[Shape]:
    """(C, H, W) reaching each insertion point of ``name`` for an input of ``input_size``."""
    with torch.device("meta"):
        plain = _build_plain(name, 10, width, shortcut)
    shapes: list[Shape] = []
    hooks = [
        getattr(parent, attribute).register_forward_hook(
            lambda _m, _i, out: shapes.append(tuple(out.shape[1:]))
        )
        for parent, attribute in _insertion_slots(plain)
    ]
    with torch.no_grad():
        plain.eval()(torch.empty(1, 3, *input_size, device="meta"))  # eval: BN accepts 1 x 1
    for hook in hooks:
        hook.remove()
    return shapes


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _build_plain(name: str, num_classes: int, width: int, shortcut: Literal["A", "B"]) -> nn.Module:
    if name in CIFAR_DEPTHS:
        return CifarResNet(CIFAR_DEPTHS[name], num_classes, width, shortcut)
    if name in TORCHVISION_NAMES:
        import torchvision

        return getattr(torchvision.models, name)(weights=None, num_classes=num_classes)
    raise SearchError(f"unknown backbone {name!r}; choose one of {', '.join(BACKBONES)}")


def _insertion_slots(network: nn.Module) -> list[tuple[nn.Module, str]]:
    """(parent, attribute) of every insertion point, in forward order."""
    import torchvision.models.resnet as tv

    slots: list[tuple[nn.Module, str]] = []
    for module in network.modules():
        if isinstance(module, CifarBasicBlock):
            slots.append((module, "attention"))
        elif isinstance(module, tv.BasicBlock):
            slots.append((module, "bn2"))
        elif isinstance(module, tv.Bottleneck):
            slots.append((module, "bn3"))
    return slots
