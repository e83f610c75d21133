"""Candidate ops of the fake test space (hand-written, following docs/generated-interface.md).

``identity`` is the one right answer: the two other candidates scramble the feature map with a
fixed random sign per position, which no later layer can undo, so a search must learn to avoid them.
"""

import torch
from torch import Tensor, nn


def _sign_mask(channels: int, height: int, width: int) -> Tensor:
    generator = torch.Generator().manual_seed(channels * 10_000 + height * 100 + width)
    return torch.randint(0, 2, (channels, height, width), generator=generator).float() * 2 - 1


class Identity(nn.Module):
    def __init__(self, channels: int, height: int, width: int) -> None:
        super().__init__()

    def forward(self, x: Tensor) -> Tensor:
        return x


class Scramble(nn.Module):
    def __init__(self, channels: int, height: int, width: int) -> None:
        super().__init__()
        self.register_buffer("mask", _sign_mask(channels, height, width))

    def forward(self, x: Tensor) -> Tensor:
        return x * self.mask


class MaskConv(nn.Module):
    def __init__(self, channels: int, height: int, width: int) -> None:
        super().__init__()
        self.register_buffer("mask", _sign_mask(channels, height, width))
        self.conv = nn.Conv2d(channels, channels, 1, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(x * self.mask)


OPS = {"identity": Identity, "scramble": Scramble, "mask_conv": MaskConv}
