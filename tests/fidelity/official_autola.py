"""HOGA's candidate ops as the official AutoLA code defines them.

Transcribed for these tests from docs/reference-ops.md section 2.1 (which records
github.com/btma48/AutoLA, `operations.py` at a6e2005), with plain torch and nothing from
sedsl. Each constructor takes the group's channel count C (the code's C_in = C / 4 of the
block), `affine=True` as the fixed network builds them.

`neutralise_and_load(code_op, ours)` sets the layers the code has beyond the paper's
definition (docs/deviations.md) to identities and writes sedsl's weights into the rest.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def channel_pool(x: Tensor) -> Tensor:
    """`ChannelPool`: (max, mean) over channels, in that order."""
    return torch.cat((x.max(dim=1)[0].unsqueeze(1), x.mean(dim=1).unsqueeze(1)), dim=1)


class Zero(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        return x.mul(0.0)


class Identity(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        return x


def separable_layers(c: int, out: int) -> list[nn.Module]:
    """DARTS' SepConv body as AutoLA has it (no leading ReLU): dw 3x3, pw, BN, ReLU, dw 3x3,
    pw c -> out, BN(out); no biases."""
    return [
        nn.Conv2d(c, c, 3, padding=1, groups=c, bias=False),
        nn.Conv2d(c, c, 1, bias=False),
        nn.BatchNorm2d(c),
        nn.ReLU(),
        nn.Conv2d(c, c, 3, padding=1, groups=c, bias=False),
        nn.Conv2d(c, out, 1, bias=False),
        nn.BatchNorm2d(out),
    ]


class SepConv(nn.Module):
    """'sep_conv_3x3': x * sigmoid(separable_layers(x))."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.op = nn.Sequential(*separable_layers(c, c), nn.Sigmoid())

    def forward(self, x: Tensor) -> Tensor:
        return self.op(x) * x


class DilConv(nn.Module):
    """'dil_conv_3x3': x * (dw 3x3 dilation 2 padding 2, pw, BN, sigmoid)(x)."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.op = nn.Sequential(
            nn.Conv2d(c, c, 3, padding=2, dilation=2, groups=c, bias=False),
            nn.Conv2d(c, c, 1, bias=False),
            nn.BatchNorm2d(c),
            nn.Sigmoid(),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.op(x) * x


class SepConvAttention(nn.Module):
    """'sep_conv_3x3_spatial': separable_layers(2, 1) on the (max, mean) pair; x * sigmoid."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.op = nn.Sequential(*separable_layers(2, 1))

    def forward(self, x: Tensor) -> Tensor:
        return x * torch.sigmoid(self.op(channel_pool(x)))


class DilConvAttention(nn.Module):
    """'dil_conv_3x3_spatial': conv 2 -> 1, 3x3, dilation 2, padding 2; pw 1 -> 1; BN;
    x * sigmoid of that."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.op = nn.Sequential(
            nn.Conv2d(2, 1, 3, padding=2, dilation=2, bias=False),
            nn.Conv2d(1, 1, 1, bias=False),
            nn.BatchNorm2d(1),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x * torch.sigmoid(self.op(channel_pool(x)))


class SE(nn.Module):
    """'SE' (`SE_A`, reduction 4): GAP, Linear C -> C // 4, ReLU, Linear back, no biases,
    sigmoid; x * that."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.fc = nn.Sequential(
            nn.Linear(c, c // 4, bias=False), nn.ReLU(), nn.Linear(c // 4, c, bias=False)
        )

    def forward(self, x: Tensor) -> Tensor:
        b, c, _, _ = x.shape
        y = torch.sigmoid(self.fc(nn.functional.adaptive_avg_pool2d(x, 1).view(b, c)))
        return x * y.view(b, c, 1, 1)


class SEAvgMax(nn.Module):
    """'SE_A_M' (reduction 4): one bias-free MLP on the average and on the max pooled
    vectors, summed, sigmoid; x * that."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.fc = nn.Sequential(
            nn.Linear(c, c // 4, bias=False), nn.ReLU(), nn.Linear(c // 4, c, bias=False)
        )

    def forward(self, x: Tensor) -> Tensor:
        b, c, _, _ = x.shape
        avg = self.fc(nn.functional.adaptive_avg_pool2d(x, 1).view(b, c))
        peak = self.fc(nn.functional.adaptive_max_pool2d(x, 1).view(b, c))
        return x * torch.sigmoid(peak + avg).view(b, c, 1, 1)


class CBAM(nn.Module):
    """'CBAM' (reduction 4): ChannelGate (an MLP WITH biases on the full-map avg and max
    pools, summed, sigmoid), then SpatialGate ((max, mean) -> conv 7x7 no bias ->
    BatchNorm2d(1, momentum=0.01) -> sigmoid)."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(c, c // 4), nn.ReLU(), nn.Linear(c // 4, c))
        self.spatial = nn.Conv2d(2, 1, 7, padding=3, bias=False)
        self.bn = nn.BatchNorm2d(1, eps=1e-5, momentum=0.01, affine=True)

    def forward(self, x: Tensor) -> Tensor:
        b, c, h, w = x.shape
        avg = nn.functional.avg_pool2d(x, (h, w), stride=(h, w)).view(b, c)
        peak = nn.functional.max_pool2d(x, (h, w), stride=(h, w)).view(b, c)
        x = x * torch.sigmoid(self.mlp(avg) + self.mlp(peak)).view(b, c, 1, 1)
        return x * torch.sigmoid(self.bn(self.spatial(channel_pool(x))))


OPS = {
    "none": lambda c: Zero(),
    "skip_connect": lambda c: Identity(),
    "sep_conv_3x3": SepConv,
    "dil_conv_3x3": DilConv,
    "sep_conv_3x3_spatial": SepConvAttention,
    "dil_conv_3x3_spatial": DilConvAttention,
    "SE": SE,
    "SE_A_M": SEAvgMax,
    "CBAM": CBAM,
}

# spaces/hoga.space's labels -> the code's keys (docs/reference-ops.md 2.1)
CODE_KEY = {
    "channel": "SE",
    "channel_v2": "SE_A_M",
    "spatial_d1": "sep_conv_3x3_spatial",
    "spatial_d2": "dil_conv_3x3_spatial",
    "norm_d1": "sep_conv_3x3",
    "norm_d2": "dil_conv_3x3",
    "cbam": "CBAM",
    "identity": "skip_connect",
    "zero": "none",
}


# ---- neutral settings of the code's extra layers ------------------------------------------


def neutral_bn(bn: nn.BatchNorm2d) -> None:
    """The identity in eval mode: mean 0, variance 1 - eps (so sqrt(var + eps) = 1), scale 1,
    shift 0. In train mode BN uses the batch's statistics and no setting is neutral."""
    with torch.no_grad():
        bn.running_mean.zero_()
        bn.running_var.fill_(1.0 - bn.eps)
        bn.weight.fill_(1.0)
        bn.bias.zero_()


def delta_kernel(conv: nn.Conv2d) -> None:
    """A depth-wise kernel that passes its input through: 1 at the centre."""
    with torch.no_grad():
        conv.weight.zero_()
        kh, kw = conv.weight.shape[-2:]
        conv.weight[:, :, kh // 2, kw // 2] = 1.0


def identity_pointwise(conv: nn.Conv2d) -> None:
    with torch.no_grad():
        conv.weight.copy_(
            torch.eye(conv.weight.shape[0], conv.weight.shape[1]).view_as(conv.weight)
        )


def mean_max_to_max_mean(weight: Tensor) -> Tensor:
    """sedsl's spatial convs read (mean, max); the code's ChannelPool gives (max, mean)."""
    return weight.flip(1)
