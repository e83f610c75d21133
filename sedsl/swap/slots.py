"""The SE slots of a torchvision network and the dimensions each one provides.

A slot is one `torchvision.ops.SqueezeExcitation` module. Its dimensions are measured by
one forward pass on the meta device, never typed by hand: C, H and W of the tensor that
enters the SE, and `Cin`, the channels entering the residual block that holds it (RegNetY's
`width_in`, EfficientNet's MBConv `input_channels`), from which both families size their
SE's squeeze (RegNetY: round(Cin / 4); EfficientNet: max(1, Cin // 4)).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache

import torch
from torch import nn

from .zoo import se_network

# The residual blocks that hold an SE, whose input width is the slot's `Cin`.
BLOCK_CLASSES = ("ResBottleneckBlock", "MBConv", "FusedMBConv")


@dataclass(frozen=True)
class Slot:
    name: str  # the SE's module path in the network ("trunk_output.block1.block1-0.f.se")
    stage: str  # the stage that holds it ("block1", "features.1")
    dims: Mapping[str, int] = field(default_factory=dict)  # C, H, W, Cin

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.dims["C"], self.dims["H"], self.dims["W"]


def se_modules(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """(path, module) of every SqueezeExcitation, in forward order."""
    from torchvision.ops.misc import SqueezeExcitation

    return [(n, m) for n, m in model.named_modules() if isinstance(m, SqueezeExcitation)]


@lru_cache(maxsize=32)
def measure_slots(backbone: str, input_size: int, num_classes: int = 1000) -> tuple[Slot, ...]:
    """The slots of `backbone` at `input_size` x `input_size`, measured on the meta device."""
    model = se_network(backbone).build_meta(num_classes).eval()
    return tuple(slots_of(model, input_size))


def slots_of(model: nn.Module, input_size: int) -> list[Slot]:
    """Measure the slots of a network (on the meta device; a copy of any other)."""
    if not all(p.device.type == "meta" for p in model.parameters()):
        model = copy.deepcopy(model).to("meta")
    modules = dict(model.named_modules())
    ses = se_modules(model)
    owners = {name: _owner(name, modules) for name, _ in ses}
    seen: dict[str, dict[str, int]] = {name: {} for name, _ in ses}
    block_in: dict[str, int] = {}
    hooks = []
    for name, se in ses:
        hooks.append(se.register_forward_pre_hook(_record_shape(seen[name])))
    for owner in set(owners.values()):
        hooks.append(modules[owner].register_forward_pre_hook(_record_width(block_in, owner)))
    try:
        with torch.no_grad():
            dtype = next(model.parameters()).dtype
            model.eval()(torch.empty(1, 3, input_size, input_size, device="meta", dtype=dtype))
    finally:
        for hook in hooks:
            hook.remove()
    return [
        Slot(name, _stage(owners[name]), {**seen[name], "Cin": block_in[owners[name]]})
        for name, _ in ses
    ]


def _record_shape(into: dict[str, int]):
    def hook(_module, inputs):
        _, c, h, w = inputs[0].shape
        into.update(C=int(c), H=int(h), W=int(w))

    return hook


def _record_width(into: dict[str, int], owner: str):
    def hook(_module, inputs):
        into[owner] = int(inputs[0].shape[1])

    return hook


def _owner(se_name: str, modules: Mapping[str, nn.Module]) -> str:
    """The nearest enclosing residual block of the SE at `se_name`."""
    parts = se_name.split(".")
    for end in range(len(parts) - 1, 0, -1):
        prefix = ".".join(parts[:end])
        if type(modules[prefix]).__name__ in BLOCK_CLASSES:
            return prefix
    raise ValueError(f"{se_name}: no enclosing {' / '.join(BLOCK_CLASSES)} block")


def _stage(owner: str) -> str:
    # trunk_output.block2.block2-0 -> block2; features.3.1 -> features.3
    parts = owner.split(".")
    return ".".join(parts[:2]) if parts[0] == "features" else parts[1]
