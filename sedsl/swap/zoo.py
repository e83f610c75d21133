"""The torchvision classification networks whose SE modules `sedsl swap` replaces.

RegNetY 400MF, 800MF, 1.6GF and 3.2GF and EfficientNet B0 to B3: the TSE paper's Table 2
families (seed 002, section 4.3). Each is named as torchvision names its builder
(`regnet_y_800mf`); the compact spelling of the earlier `sedsl cost` (`regnety800mf`) and
any spelling that differs only in case, `_`, `-` or `.` are accepted too.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


class ZooError(ValueError):
    """An unknown backbone name, or weights that do not fit the backbone."""


@dataclass(frozen=True)
class SeNetwork:
    name: str  # torchvision's builder
    family: str  # regnet | efficientnet
    paper_size: int  # Table 2's input side
    weights_enum: str  # torchvision's weights class, for its evaluation transforms

    def build(self, num_classes: int = 1000) -> nn.Module:
        import torchvision

        return getattr(torchvision.models, self.name)(weights=None, num_classes=num_classes)

    def build_meta(self, num_classes: int = 1000) -> nn.Module:
        """The network on the meta device (shapes only, no storage)."""
        if self.family == "efficientnet":
            with torch.device("meta"):
                return self.build(num_classes)
        # torchvision computes RegNet's widths with torch ops that the meta device cannot
        # run; it builds on the CPU (a fraction of a second) and moves
        return self.build(num_classes).to("meta")

    def eval_transform(self):
        """torchvision's evaluation transform for its IMAGENET1K_V1 weights (offline)."""
        import torchvision

        return getattr(torchvision.models, self.weights_enum).IMAGENET1K_V1.transforms()


SE_NETWORKS: dict[str, SeNetwork] = {
    n.name: n
    for n in (
        SeNetwork("regnet_y_400mf", "regnet", 224, "RegNet_Y_400MF_Weights"),
        SeNetwork("regnet_y_800mf", "regnet", 224, "RegNet_Y_800MF_Weights"),
        SeNetwork("regnet_y_1_6gf", "regnet", 224, "RegNet_Y_1_6GF_Weights"),
        SeNetwork("regnet_y_3_2gf", "regnet", 224, "RegNet_Y_3_2GF_Weights"),
        SeNetwork("efficientnet_b0", "efficientnet", 224, "EfficientNet_B0_Weights"),
        SeNetwork("efficientnet_b1", "efficientnet", 240, "EfficientNet_B1_Weights"),
        SeNetwork("efficientnet_b2", "efficientnet", 260, "EfficientNet_B2_Weights"),
        SeNetwork("efficientnet_b3", "efficientnet", 300, "EfficientNet_B3_Weights"),
    )
}


def _key(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


_BY_KEY = {_key(n): n for n in SE_NETWORKS}


def canonical_name(name: str) -> str | None:
    """torchvision's name for `name`, or None when it is not an SE network of the zoo."""
    return _BY_KEY.get(_key(name))


def se_network(name: str) -> SeNetwork:
    canonical = canonical_name(name)
    if canonical is None:
        raise ZooError(f"unknown SE backbone {name!r}; choose one of {', '.join(SE_NETWORKS)}")
    return SE_NETWORKS[canonical]


def load_weights(model: nn.Module, path: str, backbone: str) -> None:
    """Load a local state dict (torchvision's own .pth files load unchanged)."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, EOFError) as exc:  # missing, truncated or not a torch file
        raise ZooError(f"--weights {path}: cannot read it: {exc}") from exc
    if isinstance(state, dict):
        for key in ("model", "state_dict", "model_state"):
            if isinstance(state.get(key), dict):
                state = state[key]  # a training checkpoint that holds the state dict
                break
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ZooError(f"--weights {path}: not a state dict of tensors")
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = [
        f"{k} {tuple(state[k].shape)} (expected {tuple(v.shape)})"
        for k, v in expected.items()
        if k in state and state[k].shape != v.shape
    ]
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing (e.g. {', '.join(missing[:3])})")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected (e.g. {', '.join(unexpected[:3])})")
    if wrong:
        problems.append(f"{len(wrong)} of another shape (e.g. {', '.join(wrong[:2])})")
    if problems:
        raise ZooError(
            f"--weights {path} is not a state dict of torchvision's {backbone}: "
            + "; ".join(problems)
        )
    model.load_state_dict(state)
