"""Attention blocks timm does not ship, as spaces with searched choices: SRM, BAM and triplet
attention. Each genotype is tested against a reference written here
from the paper's text (not from sedsl's output): weights copied by name, float64, two sizes,
train mode then eval mode (tests/reach/compare.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import pytest
import torch
from torch import Tensor, nn

from tests.reach.compare import assert_computes_the_same, fixed_module, randomise

SIZES = [(16, 8, 8), (32, 12, 10)]  # (C, H, W): the second not square
BN_STATE = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")


def bn(reference: str, ours: str) -> dict[str, str]:
    return {f"{reference}.{s}": f"{ours}.{s}" for s in BN_STATE}


def linear(reference: str, ours: str) -> dict[str, str]:
    return {f"{reference}.weight": f"{ours}.weight", f"{reference}.bias": f"{ours}.bias"}


class Case(NamedTuple):
    """One genotype and the paper's module it must compute."""

    space: str
    genotype: str
    reference: Callable[[int], nn.Module]  # the reference for C channels
    names: dict  # reference state key -> our state key(s)


def check(case: Case) -> None:
    for seed, (c, h, w) in enumerate(SIZES):
        mine = randomise(fixed_module(case.space, case.genotype, c, h, w), seed)
        reference = case.reference(c).double()
        assert_computes_the_same(mine, reference, case.names, (c, h, w), case.space)


# ---- SRM ------------------------------------------------------------------------------------


class SRMReference(nn.Module):
    """SRM (Lee, Kim and Nam, "SRM: A Style-based Recalibration Module for Convolutional Neural
    Networks", ICCV 2019), section 3. Style pooling: per channel the mean mu = 1/HW sum x and the
    standard deviation sigma = sqrt(1/HW sum (x - mu)^2), the style t = [mu, sigma]. Style
    integration: a channel-wise fully connected layer z_c = w_c . t_c (w in R^{C x 2}), batch
    normalisation of z over the mini-batch, g = sigmoid(BN(z)). Output x * g. `use_std=False`
    keeps mu alone (t = [mu], w in R^{C x 1})."""

    def __init__(self, channels: int, use_std: bool = True) -> None:
        super().__init__()
        self.use_std = use_std
        self.cfc = nn.Parameter(torch.zeros(channels, 2 if use_std else 1))
        self.bn = nn.BatchNorm1d(channels)

    def forward(self, x: Tensor) -> Tensor:
        b, c = x.shape[:2]
        flat = x.reshape(b, c, -1)
        mu = flat.mean(dim=2)
        stats = [mu]
        if self.use_std:
            stats.append(((flat - mu[..., None]) ** 2).mean(dim=2).sqrt())
        t = torch.stack(stats, dim=2)  # [B, C, 1 or 2]
        z = (t * self.cfc).sum(dim=2)  # the CFC
        g = torch.sigmoid(self.bn(z))
        return x * g[:, :, None, None]


def _srm(genotype: str, use_std: bool) -> Case:
    # the CFC's columns are the per-channel weights of the statistics, in order [mu, sigma]
    columns = ("a.weigh.conv2d.weight", "b.weigh.conv2d.weight")
    names = {"cfc": columns if use_std else columns[:1], **bn("bn", "n.op")}
    return Case("srm", genotype, lambda c: SRMReference(c, use_std=use_std), names)


SRM = [_srm("srm", use_std=True), _srm("mean_only", use_std=False)]


@pytest.mark.parametrize("case", SRM, ids=[case.genotype for case in SRM])
def test_srm_equals_the_papers_definition(case):
    check(case)


# ---- BAM ------------------------------------------------------------------------------------


class BAMReference(nn.Module):
    """BAM (Park, Woo, Lee and Kweon, "BAM: Bottleneck Attention Module", BMVC 2018), section 3.
    M(F) = sigmoid(M_c(F) + M_s(F)), both maps broadcast to C x H x W, and F' = F + F * M(F).
    Channel branch: M_c(F) = BN(MLP(AvgPool(F))) with one hidden layer of C / r units (W_0, b_0,
    ReLU, W_1, b_1). Spatial branch: M_s(F) = BN(f3_1x1(f2_3x3(f1_3x3(f0_1x1(F))))), f0 to C / r
    channels, f1 and f2 3x3 convs with dilation d, f3 to one channel; the paper writes the convs
    only, a ReLU follows each but the last as in its released code. r = 16, d = 4.
    `spatial=False` drops M_s (the channel branch alone)."""

    def __init__(self, channels: int, r: int = 16, d: int = 4, spatial: bool = True) -> None:
        super().__init__()
        hidden = channels // r
        self.fc0, self.fc1 = nn.Linear(channels, hidden), nn.Linear(hidden, channels)
        self.bn_c = nn.BatchNorm1d(channels)
        self.spatial = spatial
        if spatial:
            self.f0 = nn.Conv2d(channels, hidden, 1)
            self.f1 = nn.Conv2d(hidden, hidden, 3, padding=d, dilation=d)
            self.f2 = nn.Conv2d(hidden, hidden, 3, padding=d, dilation=d)
            self.f3 = nn.Conv2d(hidden, 1, 1)
            self.bn_s = nn.BatchNorm2d(1)

    def forward(self, f: Tensor) -> Tensor:
        m_c = self.bn_c(self.fc1(torch.relu(self.fc0(f.mean(dim=(2, 3))))))[:, :, None, None]
        m = m_c
        if self.spatial:
            s = torch.relu(self.f2(torch.relu(self.f1(torch.relu(self.f0(f))))))
            m = m_c + self.bn_s(self.f3(s))
        return f + f * torch.sigmoid(m)


def _bam_names(spatial: bool) -> dict[str, str]:
    names = {
        **linear("fc0", "m_c.hidden_conv2d"),
        **linear("fc1", "m_c.conv2d"),
        **bn("bn_c", "m_c.bn"),
    }
    if spatial:
        names |= {
            **linear("f0", "m_s.reduced_conv2d"),
            **linear("f1", "m_s.first_conv2d"),
            **linear("f2", "m_s.second_conv2d"),
            **linear("f3", "m_s.conv2d"),
            **bn("bn_s", "m_s.bn"),
        }
    return names


def _bam(genotype: str, spatial: bool) -> Case:
    return Case("bam", genotype, lambda c: BAMReference(c, spatial=spatial), _bam_names(spatial))


BAM = [_bam("bam", spatial=True), _bam("channel_only", spatial=False)]


@pytest.mark.parametrize("case", BAM, ids=[case.genotype for case in BAM])
def test_bam_equals_the_papers_definition(case):
    check(case)


# ---- triplet attention ---------------------------------------------------------------------


class TripletReference(nn.Module):
    """Triplet attention (Misra, Nalamada, Arasanipalai and Hou, "Rotate to Attend:
    Convolutional Triplet Attention Module", WACV 2021), section 3.2 and Figure 3. Three
    branches; the first rotates the input 90 degrees along the H axis so that C and H swap
    ([B, H, C, W]), the second along the W axis so that C and W swap ([B, W, H, C]), the third
    keeps it. Each branch Z-pools its tensor over its first (non-batch) axis, Z(x) = [max_0 x,
    mean_0 x] (two maps, max first), applies a k x k convolution (k = 7) to one map and batch
    normalisation, a sigmoid, multiplies its tensor by that map and rotates back. The output is
    the simple average of the three, 1/3 (y_1 + y_2 + y_3). `kernels` sets k per branch."""

    def __init__(self, kernels: tuple[int, int, int] = (7, 7, 7)) -> None:
        super().__init__()
        self.convs = nn.ModuleList(nn.Conv2d(2, 1, k, padding=k // 2, bias=False) for k in kernels)
        self.bns = nn.ModuleList(nn.BatchNorm2d(1) for _ in kernels)

    def _gate(self, i: int, x: Tensor) -> Tensor:
        z = torch.stack([x.amax(dim=1), x.mean(dim=1)], dim=1)  # Z-pool: [B, 2, ., .]
        return x * torch.sigmoid(self.bns[i](self.convs[i](z)))

    def forward(self, x: Tensor) -> Tensor:
        y_ch = self._gate(0, x.transpose(1, 2)).transpose(1, 2)  # C and H swapped, and back
        y_cw = self._gate(1, x.transpose(1, 3)).transpose(1, 3)  # C and W swapped, and back
        y_hw = self._gate(2, x)
        return (y_ch + y_cw + y_hw) / 3


def _triplet_names(edges: tuple[str, str, str]) -> dict[str, str]:
    names = {}
    for i, edge in enumerate(edges):
        names[f"convs.{i}.weight"] = f"{edge}.conv2d.weight"
        names |= bn(f"bns.{i}", f"{edge}.bn")
    return names


def _triplet(genotype: str, kernels: tuple[int, int, int]) -> Case:
    names = _triplet_names(("g_ch", "g_cw", "g_hw"))
    return Case("triplet", genotype, lambda c: TripletReference(kernels), names)


TRIPLET = [_triplet("triplet", (7, 7, 7)), _triplet("triplet_3_5_7", (3, 5, 7))]


@pytest.mark.parametrize("case", TRIPLET, ids=[case.genotype for case in TRIPLET])
def test_triplet_equals_the_papers_definition(case):
    check(case)


CASES = [*SRM, *BAM, *TRIPLET]  # every genotype of the three spaces with its reference
