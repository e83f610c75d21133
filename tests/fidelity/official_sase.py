"""SASE's candidate ops and search block as its official code defines them.

Transcribed for these tests from docs/reference-ops.md section 1 (which records
github.com/pusheng0902/SASE, `SASE_search/operations.py` and `resnet_SASE.py` at 47c6f68),
written with plain torch and nothing from sedsl, so a test that compares a generated
candidate with one of these compares two independent definitions. Names are the code's
dictionary keys; each constructor takes (C, H, W) as the code's op tables do. Where the
code fixes a size at construction (skew pooling's H * W, the affine maps, LayerNorm over
(H, W)) these do too.

Parameters are registered in the order the code registers them; `copy_in_order` in
tests/fidelity/helpers.py relies on that to copy weights between the two sides.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F


class ChannelMixer(nn.Module):
    """The code's mixer of two per-channel statistics: the (B, C, 1, 2) pair is turned so
    the two statistics are the conv's input channels, a 1x1 conv 2 -> 1 without bias, ReLU,
    and turned back: out[c] = relu(w0 * a[c] + w1 * b[c])."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 1, 1, bias=False)

    def forward(self, a: Tensor, b: Tensor) -> Tensor:
        pair = torch.cat((a, b), dim=-1)  # (B, C, 1, 2)
        return F.relu(self.conv(pair.transpose(-1, -3))).transpose(-1, -3)


class SpatialMixer(nn.Module):
    """The spatial two-statistic mixer: 1x1 conv 2 -> 1 without bias, ReLU, on cat(a, b)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 1, 1, bias=False)

    def forward(self, a: Tensor, b: Tensor) -> Tensor:
        return F.relu(self.conv(torch.cat((a, b), dim=1)))


def unbiased_std(x: Tensor, dims) -> Tensor:
    """`torch.std` as the code calls it: unbiased (N - 1), no eps."""
    return torch.std(x, dim=dims, keepdim=True)


# ---- channel squeezes: (B, C, H, W) -> (B, C, 1, 1) ---------------------------------------


class GapCh(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        return F.adaptive_avg_pool2d(x, 1)


class GapGmpCh(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.mixer = ChannelMixer()

    def forward(self, x: Tensor) -> Tensor:
        return self.mixer(F.adaptive_avg_pool2d(x, 1), F.adaptive_max_pool2d(x, 1))


class GapStdCh(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.mixer = ChannelMixer()

    def forward(self, x: Tensor) -> Tensor:
        return self.mixer(F.adaptive_avg_pool2d(x, 1), unbiased_std(x, (2, 3)))


class SkewCh(nn.Module):
    """GAP and the raw third central moment, sum / (H * W) with H, W fixed at construction."""

    def __init__(self, h: int, w: int) -> None:
        super().__init__()
        self.hw = h * w
        self.mixer = ChannelMixer()

    def forward(self, x: Tensor) -> Tensor:
        centred = x - x.mean(dim=(2, 3), keepdim=True)
        skew = (centred**3).sum(dim=(2, 3), keepdim=True) / self.hw
        return self.mixer(F.adaptive_avg_pool2d(x, 1), skew)


class PnormCh(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        return (x**4).sum(dim=(2, 3), keepdim=True) ** (1 / 4)


class L2normCh(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.norm = nn.InstanceNorm2d(c, affine=True)

    def forward(self, x: Tensor) -> Tensor:
        return (self.norm(x) ** 2).sum(dim=(2, 3), keepdim=True) ** 0.5


class GsopCh(nn.Module):
    """`BilinearPooling_ch`: C' = C // 4 channels by adaptive pooling along the channels,
    centre over positions, (B, C', C') Gram / (C' - 1), BN over rows, row-wise grouped
    conv, ReLU, 1x1 conv C' -> C; no biases."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.reduced = c // 4
        self.norm = nn.BatchNorm2d(self.reduced)
        self.row_conv = nn.Conv2d(
            self.reduced, self.reduced, (self.reduced, 1), groups=self.reduced, bias=False
        )
        self.expand = nn.Conv2d(self.reduced, c, 1, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        b, c, _, _ = x.shape
        z = x.reshape(b, c, -1)
        z = F.adaptive_avg_pool1d(z.transpose(-1, -2), self.reduced).transpose(-1, -2)
        z = z - z.mean(dim=2).unsqueeze(-1)
        gram = z.matmul(z.transpose(1, 2)) / (self.reduced - 1)
        rows = F.relu(self.row_conv(self.norm(gram.unsqueeze(-1))))
        return self.expand(rows)


# ---- spatial squeezes: (B, C, H, W) -> (B, 1, H, W) ---------------------------------------


class GapSp(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        return x.mean(dim=1, keepdim=True)


class GapGmpSp(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.mixer = SpatialMixer()

    def forward(self, x: Tensor) -> Tensor:
        return self.mixer(x.mean(dim=1, keepdim=True), x.max(dim=1, keepdim=True)[0])


class GapStdSp(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.mixer = SpatialMixer()

    def forward(self, x: Tensor) -> Tensor:
        return self.mixer(x.mean(dim=1, keepdim=True), unbiased_std(x, 1))


class SkewSp(nn.Module):
    """GAP over channels and the raw third central moment over channels, sum / C."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.c = c
        self.mixer = SpatialMixer()

    def forward(self, x: Tensor) -> Tensor:
        centred = x - x.mean(dim=1, keepdim=True)
        skew = (centred**3).sum(dim=1, keepdim=True) / self.c
        return self.mixer(x.mean(dim=1, keepdim=True), skew)


class PnormSp(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        return (x**4).sum(dim=1, keepdim=True) ** (1 / 4)


class L2normSp(nn.Module):
    """LayerNorm over (H, W) of each (b, c) map with a per-position affine, then the L2 norm
    across channels."""

    def __init__(self, h: int, w: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm((h, w), elementwise_affine=True)

    def forward(self, x: Tensor) -> Tensor:
        return (self.norm(x) ** 2).sum(dim=1, keepdim=True) ** 0.5


class GsopSp(nn.Module):
    """`BilinearPooling_sp`: adaptive average pooling to 8 x 8, the (B, 64, 64) Gram of
    positions centred over channels / 63, BN, row-wise grouped conv, ReLU, 1x1 conv 64 -> 64
    without bias, then `F.adaptive_avg_pool2d` back to (H, W)."""

    grid = 8

    def __init__(self) -> None:
        super().__init__()
        n = self.grid * self.grid
        self.norm = nn.BatchNorm2d(n)
        self.row_conv = nn.Conv2d(n, n, (n, 1), groups=n, bias=False)
        self.expand = nn.Conv2d(n, n, 1, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        b, c, h, w = x.shape
        n = self.grid * self.grid
        z = F.adaptive_avg_pool2d(x, (self.grid, self.grid)).reshape(b, c, n).transpose(1, 2)
        z = z - z.mean(dim=2).unsqueeze(-1)
        gram = z.matmul(z.transpose(1, 2)) / (n - 1)
        rows = self.expand(F.relu(self.row_conv(self.norm(gram.unsqueeze(-1)))))
        grid = rows.reshape(b, 1, self.grid, self.grid)
        return F.adaptive_avg_pool2d(grid, (h, w)).reshape(b, 1, h, w)


# ---- channel excitations: (B, C, 1, 1) -> (B, C, 1, 1) ------------------------------------


class Fc(nn.Module):
    """'2conv_1x1': C -> max(1, C // 16) -> C, ReLU between, no biases and NO sigmoid."""

    def __init__(self, c: int) -> None:
        super().__init__()
        hidden = max(1, c // 16)
        self.body = nn.Sequential(
            nn.Conv2d(c, hidden, 1, bias=False), nn.ReLU(), nn.Conv2d(hidden, c, 1, bias=False)
        )

    def forward(self, s: Tensor) -> Tensor:
        return self.body(s)


class Conv1dStack(nn.Module):
    """'conv1D_k', '2conv1D_3', '3conv1D_3': 1D convs across the channel axis (padding
    k // 2, no bias), ReLU between, a sigmoid after the last."""

    def __init__(self, k: int, layers: int) -> None:
        super().__init__()
        self.convs = nn.ModuleList(
            nn.Conv1d(1, 1, k, padding=k // 2, bias=False) for _ in range(layers)
        )

    def forward(self, s: Tensor) -> Tensor:
        y = s.squeeze(-1).transpose(-1, -2)  # (B, 1, C)
        for i, conv in enumerate(self.convs):
            y = conv(y)
            y = torch.sigmoid(y) if i == len(self.convs) - 1 else F.relu(y)
        return y.transpose(-1, -2).unsqueeze(-1)


class AffineGate(nn.Module):
    """'affine' of either excitation set: sigmoid(alpha * x + beta), alpha from ones, beta
    from zeros, one pair per element of `shape` ((C, 1, 1) or (1, H, W))."""

    def __init__(self, *shape: int) -> None:
        super().__init__()
        self.alpha = nn.Parameter(torch.ones(shape))
        self.beta = nn.Parameter(torch.zeros(shape))

    def forward(self, x: Tensor) -> Tensor:
        return torch.sigmoid(self.alpha * x + self.beta)


# ---- spatial excitations: (B, 1, H, W) -> (B, 1, H, W) ------------------------------------


def conv_gate(*layers: nn.Module) -> nn.Sequential:
    return nn.Sequential(*layers, nn.Sigmoid())


def conv_kxk(k: int) -> nn.Sequential:
    return conv_gate(nn.Conv2d(1, 1, k, padding=k // 2, bias=False))


def conv_2x3x3() -> nn.Sequential:
    return conv_gate(
        nn.Conv2d(1, 1, 3, padding=1, bias=False),
        nn.ReLU(),
        nn.Conv2d(1, 1, 3, padding=1, bias=False),
    )


def conv_separable(k: int) -> nn.Sequential:
    """1 x k first, then k x 1, no activation between."""
    return conv_gate(
        nn.Conv2d(1, 1, (1, k), padding=(0, k // 2), bias=False),
        nn.Conv2d(1, 1, (k, 1), padding=(k // 2, 0), bias=False),
    )


# ---- the op tables, in the code's order (= its alpha columns) ------------------------------

SQUEEZE_CHANNEL = {
    "GAP": lambda c, h, w: GapCh(),
    "L2-norm": lambda c, h, w: L2normCh(c),
    "p-norm": lambda c, h, w: PnormCh(),
    "GAP+GMP": lambda c, h, w: GapGmpCh(),
    "GAP+std": lambda c, h, w: GapStdCh(),
    "SkewPooling": lambda c, h, w: SkewCh(h, w),
    "2nd-order pooling": lambda c, h, w: GsopCh(c),
}
EXCITATION_CHANNEL = {
    "3conv1D_3": lambda c, h, w: Conv1dStack(3, 3),
    "2conv_1x1": lambda c, h, w: Fc(c),
    "conv1D_3": lambda c, h, w: Conv1dStack(3, 1),
    "conv1D_5": lambda c, h, w: Conv1dStack(5, 1),
    "conv1D_7": lambda c, h, w: Conv1dStack(7, 1),
    "2conv1D_3": lambda c, h, w: Conv1dStack(3, 2),
    "affine": lambda c, h, w: AffineGate(c, 1, 1),
}
SQUEEZE_SPATIAL = {
    "GAP": lambda c, h, w: GapSp(),
    "L2-norm": lambda c, h, w: L2normSp(h, w),
    "p-norm": lambda c, h, w: PnormSp(),
    "GAP+GMP": lambda c, h, w: GapGmpSp(),
    "GAP+std": lambda c, h, w: GapStdSp(),
    "SkewPooling": lambda c, h, w: SkewSp(c),
    "2nd-order pooling": lambda c, h, w: GsopSp(),
}
EXCITATION_SPATIAL = {
    "conv_3x1_1x3": lambda c, h, w: conv_separable(3),
    "conv_5x1_1x5": lambda c, h, w: conv_separable(5),
    "conv_3x3": lambda c, h, w: conv_kxk(3),
    "conv_5x5": lambda c, h, w: conv_kxk(5),
    "conv_7x7": lambda c, h, w: conv_kxk(7),
    "2conv_3x3": lambda c, h, w: conv_2x3x3(),
    "affine": lambda c, h, w: AffineGate(1, h, w),
}
# the six edges of the search block, in the order of the code's alpha rows
EDGE_TABLES = (
    SQUEEZE_CHANNEL,
    EXCITATION_CHANNEL,
    EXCITATION_CHANNEL,
    SQUEEZE_SPATIAL,
    SQUEEZE_SPATIAL,
    EXCITATION_SPATIAL,
)

# sedsl's candidate labels (spaces/sase*.space) -> the code's keys, per op set
CODE_KEY = {
    "squeeze_ch": {
        "gap": "GAP",
        "gsop": "2nd-order pooling",
        "in_l2": "L2-norm",
        "lp": "p-norm",
        "gap_gmp": "GAP+GMP",
        "gap_std": "GAP+std",
        "gap_skew": "SkewPooling",
    },
    "excite_ch": {
        "fc": "2conv_1x1",
        "conv1d_3": "conv1D_3",
        "conv1d_5": "conv1D_5",
        "conv1d_7": "conv1D_7",
        "conv1d_x2": "2conv1D_3",
        "conv1d_x3": "3conv1D_3",
        "affine": "affine",
    },
    "excite_sp": {
        "conv2d_3": "conv_3x3",
        "conv2d_5": "conv_5x5",
        "conv2d_7": "conv_7x7",
        "conv2d_x2": "2conv_3x3",
        "sep_conv_3": "conv_3x1_1x3",
        "sep_conv_5": "conv_5x1_1x5",
        "affine": "affine",
    },
}
CODE_KEY["squeeze_sp"] = CODE_KEY["squeeze_ch"]
TABLE = {
    "squeeze_ch": SQUEEZE_CHANNEL,
    "excite_ch": EXCITATION_CHANNEL,
    "squeeze_sp": SQUEEZE_SPATIAL,
    "excite_sp": EXCITATION_SPATIAL,
}


class MixedOp(nn.Module):
    """The code's searched edge: sum(w * op(x)) over its table, in table order."""

    def __init__(self, table: dict, c: int, h: int, w: int) -> None:
        super().__init__()
        self.ops = nn.ModuleList(make(c, h, w) for make in table.values())

    def forward(self, x: Tensor, weights: Tensor) -> Tensor:
        return sum(w * op(x) for w, op in zip(weights, self.ops, strict=True))


class SearchBlock(nn.Module):
    """`Attention` of resnet_SASE.py: the six mixed edges, the mixer
    conv(2 -> 1, no bias) - BN(1, affine=False) - ReLU, and s0 * (a1 + a_sp) / 2 + s0.
    Edge 3 (a spatial squeeze) reads the gated input and comes first in the concat; edge 4
    reads x. The excitation edges are built at (C, H, W) like every edge (their ops ignore
    H, W except the spatial affine)."""

    def __init__(self, c: int, h: int, w: int) -> None:
        super().__init__()
        self.edges = nn.ModuleList(MixedOp(table, c, h, w) for table in EDGE_TABLES)
        self.mixer = nn.Sequential(
            nn.Conv2d(2, 1, 1, bias=False), nn.BatchNorm2d(1, affine=False), nn.ReLU()
        )

    def forward(self, s0: Tensor, weights: Tensor) -> Tensor:
        squeezed = self.edges[0](s0, weights[0])
        a1 = self.edges[1](squeezed, weights[1])
        a2 = self.edges[2](squeezed, weights[2])
        gated = a2 * s0
        z = self.mixer(
            torch.cat([self.edges[3](gated, weights[3]), self.edges[4](s0, weights[4])], dim=1)
        )
        a_sp = self.edges[5](z, weights[5])
        return s0 * (a1 + a_sp) / 2 + s0
