"""Supernet of the fake test space: x -> edge a -> edge b -> out."""

import torch
from torch import Tensor, nn

from .ops import OPS

EDGES: tuple[str, ...] = ("a", "b")
CANDIDATES: dict[str, tuple[str, ...]] = {
    "a": ("scramble", "identity", "mask_conv"),
    "b": ("mask_conv", "scramble", "identity"),
}


class Alphas(nn.Module):
    """One architecture-parameter vector per searched edge, shared by every block of a network."""

    def __init__(self, init_std: float = 1e-3) -> None:
        super().__init__()
        self.logits = nn.ParameterDict(
            {edge: nn.Parameter(init_std * torch.randn(len(CANDIDATES[edge]))) for edge in EDGES}
        )

    def weights(self) -> dict[str, Tensor]:
        return {edge: torch.softmax(self.logits[edge], dim=-1) for edge in EDGES}

    def genotype(self) -> dict[str, str]:
        return {edge: CANDIDATES[edge][int(self.logits[edge].argmax())] for edge in EDGES}

    def snapshot(self) -> dict[str, list[float]]:
        return {edge: [float(v) for v in w.detach()] for edge, w in self.weights().items()}


class SupernetBlock(nn.Module):
    def __init__(self, channels: int, height: int, width: int, alphas: Alphas) -> None:
        super().__init__()
        self.edges = nn.ModuleDict(
            {
                edge: nn.ModuleList(OPS[name](channels, height, width) for name in CANDIDATES[edge])
                for edge in EDGES
            }
        )
        object.__setattr__(self, "alphas", alphas)  # held by reference, not a submodule

    def forward(self, x: Tensor) -> Tensor:
        weights = self.alphas.weights()
        for edge in EDGES:
            x = sum(w * op(x) for w, op in zip(weights[edge], self.edges[edge], strict=True))
        return x
