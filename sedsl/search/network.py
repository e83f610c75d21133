"""The searched network: a backbone with one SupernetBlock per insertion point, one Alphas."""

from __future__ import annotations

from torch import Tensor, nn

from .backbones import build_backbone
from .space import LoadedSpace


class SearchNetwork(nn.Module):
    """``net`` holds every weight; ``alphas`` holds every architecture parameter.

    Both are registered here so that one ``named_parameters()`` dict drives
    ``torch.func.functional_call``; the blocks inside ``net`` hold the same Alphas by reference.
    """

    def __init__(self, net: nn.Module, alphas: nn.Module) -> None:
        super().__init__()
        self.net = net
        self.alphas = alphas

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)

    def weight_names(self) -> list[str]:
        return [name for name, _ in self.named_parameters() if not name.startswith("alphas.")]

    def arch_names(self) -> list[str]:
        return [name for name, _ in self.named_parameters() if name.startswith("alphas.")]

    def weight_parameters(self) -> list[nn.Parameter]:
        return list(self.net.parameters())

    def arch_parameters(self) -> list[nn.Parameter]:
        return list(self.alphas.parameters())

    def genotype(self) -> dict[str, str]:
        return dict(self.alphas.genotype())

    def snapshot(self) -> dict[str, list[float]]:
        return dict(self.alphas.snapshot())


def build_search_network(
    space: LoadedSpace,
    *,
    backbone: str = "resnet20",
    num_classes: int = 10,
    input_size: tuple[int, int] = (32, 32),
    width: int = 16,
    alpha_init_std: float = 1e-3,
) -> SearchNetwork:
    """The alphas are drawn before the weights, so a seed fixes both in a known order."""
    alphas = space.supernet.Alphas(alpha_init_std)

    def factory(channels: int, height: int, width: int) -> nn.Module:
        dims = {"C": channels, "H": height, "W": width}
        extra = space.dim_kwargs(dims, f"backbone {backbone}")
        return space.supernet.SupernetBlock(channels, height, width, alphas, **extra)

    net = build_backbone(
        backbone, factory, num_classes=num_classes, input_size=input_size, width=width
    )
    return SearchNetwork(net, alphas)
