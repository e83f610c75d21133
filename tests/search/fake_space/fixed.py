"""Fixed modules of the fake test space; imports torch only."""

from collections.abc import Mapping

import torch
from torch import Tensor, nn

GENOTYPES: dict[str, dict[str, str]] = {
    "right": {"a": "identity", "b": "identity"},
    "wrong": {"a": "scramble", "b": "mask_conv"},
}


def _sign_mask(channels: int, height: int, width: int) -> Tensor:
    generator = torch.Generator().manual_seed(channels * 10_000 + height * 100 + width)
    return torch.randint(0, 2, (channels, height, width), generator=generator).float() * 2 - 1


class _Identity(nn.Module):
    def __init__(self, channels: int, height: int, width: int) -> None:
        super().__init__()

    def forward(self, x: Tensor) -> Tensor:
        return x


class _Scramble(nn.Module):
    def __init__(self, channels: int, height: int, width: int) -> None:
        super().__init__()
        self.register_buffer("mask", _sign_mask(channels, height, width))

    def forward(self, x: Tensor) -> Tensor:
        return x * self.mask


class _MaskConv(nn.Module):
    def __init__(self, channels: int, height: int, width: int) -> None:
        super().__init__()
        self.register_buffer("mask", _sign_mask(channels, height, width))
        self.conv = nn.Conv2d(channels, channels, 1, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(x * self.mask)


_OPS = {"identity": _Identity, "scramble": _Scramble, "mask_conv": _MaskConv}


class FixedBlock(nn.Module):
    def __init__(self, genotype: Mapping[str, str], channels: int, height: int, width: int) -> None:
        super().__init__()
        self.a = _OPS[genotype["a"]](channels, height, width)
        self.b = _OPS[genotype["b"]](channels, height, width)

    def forward(self, x: Tensor) -> Tensor:
        return self.b(self.a(x))


class Right(FixedBlock):
    def __init__(self, channels: int, height: int, width: int) -> None:
        super().__init__(GENOTYPES["right"], channels, height, width)


class Wrong(FixedBlock):
    def __init__(self, channels: int, height: int, width: int) -> None:
        super().__init__(GENOTYPES["wrong"], channels, height, width)


def build_fixed(genotype: Mapping[str, str], channels: int, height: int, width: int) -> nn.Module:
    return FixedBlock(genotype, channels, height, width)
