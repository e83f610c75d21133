"""The timm coverage table: every attention module timm's `create_attn` offers, the shipped space
and genotype that computes it, how timm's module is built for the comparison and how its weights
map onto ours. tests/reach/test_timm_coverage.py runs every row against timm; docs/coverage.md is
generated from this table (`SEDSL_UPDATE_GOLDEN=1` rewrites it) so the two cannot drift."""

from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from unittest import mock

import timm.layers.gather_excite as timm_ge
from timm.layers.cbam import CbamModule, LightCbamModule
from timm.layers.coord_attn import CoordAttn, EfficientLocalAttn, SimpleCoordAttn, StripAttn
from timm.layers.eca import CecaModule, EcaModule
from timm.layers.global_context import GlobalContext
from timm.layers.non_local_attn import BatNonLocalAttn, NonLocalAttn
from timm.layers.squeeze_excite import EffectiveSEModule, SEModule
from torch import nn

TEST = "tests/reach/test_timm_coverage.py"


@dataclass(frozen=True)
class Row:
    """One timm module computed by one genotype of one shipped space."""

    timm: str  # the name create_attn takes
    module: str  # how the timm module is built, as written in the docs
    space: str
    genotype: str
    build: Callable[[int], nn.Module]  # timm's module for C channels
    names: dict[str, str] = field(default_factory=dict)  # timm state key -> our state key
    note: str = ""
    variant: str = ""  # tells apart two rows of one timm name
    sizes: tuple[tuple[int, int, int], ...] = ()  # (C, H, W) to compare at, if not the default

    @property
    def id(self) -> str:
        return f"{self.timm}-{self.variant}" if self.variant else self.timm

    @property
    def test(self) -> str:
        return f"{TEST}::test_equals_timm[{self.id}]"


def _bn(timm_prefix: str, our_prefix: str) -> dict[str, str]:
    stats = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")
    return {f"{timm_prefix}.{s}": f"{our_prefix}.{s}" for s in stats}


def _conv(timm_prefix: str, our_prefix: str, bias: bool = True) -> dict[str, str]:
    names = {f"{timm_prefix}.weight": f"{our_prefix}.weight"}
    if bias:
        names[f"{timm_prefix}.bias"] = f"{our_prefix}.bias"
    return names


def _ln_mlp(timm_prefix: str, our_prefix: str) -> dict[str, str]:
    """timm's ConvMlp with a LayerNorm2d (GlobalContext) onto the space's `ln_mlp`."""
    return {
        **_conv(f"{timm_prefix}.fc1", f"{our_prefix}.hidden_conv2d"),
        **_conv(f"{timm_prefix}.norm", f"{our_prefix}.hidden_group_norm"),
        **_conv(f"{timm_prefix}.fc2", f"{our_prefix}.conv2d"),
    }


def _non_local(our_prefix: str) -> dict[str, str]:
    """timm's NonLocalAttn onto the space's `non_local`."""
    return {
        **_conv("t", f"{our_prefix}.t_conv2d"),
        **_conv("p", f"{our_prefix}.p_conv2d"),
        **_conv("g", f"{our_prefix}.g_conv2d"),
        **_conv("z", f"{our_prefix}.conv2d"),
        **_bn("norm", f"{our_prefix}.bn"),
    }


def _bat(our_prefix: str, bilinear: str) -> dict[str, str]:
    """timm's BatNonLocalAttn onto the space's `bat` (its transform: `bilinear`)."""
    return {
        **_conv("conv1.conv", f"{our_prefix}.reduced_conv2d", bias=False),
        **_bn("conv1.bn", f"{our_prefix}.reduced_bn"),
        **_conv("ba.conv1.conv", f"{bilinear}.out_conv2d", bias=False),
        **_bn("ba.conv1.bn", f"{bilinear}.out_bn"),
        **_conv("ba.conv_p", f"{bilinear}.p_logits_conv2d"),
        **_conv("ba.conv_q", f"{bilinear}.q_logits_conv2d"),
        **_conv("ba.conv2.conv", f"{bilinear}.conv2d", bias=False),
        **_bn("ba.conv2.bn", f"{bilinear}.bn"),
        **_conv("conv2.conv", f"{our_prefix}.conv2d", bias=False),
        **_bn("conv2.bn", f"{our_prefix}.bn"),
    }


class _TorchNN:
    """torch.nn, but BatchNorm2d ignores extra positional arguments (see `gather_excite`)."""

    def __getattr__(self, name: str):
        return getattr(nn, name)

    @staticmethod
    def BatchNorm2d(channels: int, *_: object, **kwargs) -> nn.BatchNorm2d:  # noqa: N802
        return nn.BatchNorm2d(channels, **kwargs)


def gather_excite(channels: int, **kwargs) -> nn.Module:
    """timm's GatherExcite. timm 1.0.31 passes `*dd` (the strings 'device' and 'dtype' as
    positional arguments) to ConvMlp, create_conv2d and BatchNorm2d where it means `**dd`, so the
    module cannot be built with its default use_mlp=True or with extra_params=True. Those three
    calls get their intended arguments here (the extra positionals dropped); timm's code and
    forward are otherwise untouched."""
    mlp, conv = timm_ge.ConvMlp, timm_ge.create_conv2d
    with (
        mock.patch.object(timm_ge, "ConvMlp", lambda i, h, *_, **kw: mlp(i, h, **kw)),
        mock.patch.object(timm_ge, "create_conv2d", lambda i, o, *_, **kw: conv(i, o, **kw)),
        mock.patch.object(timm_ge, "nn", _TorchNN()),
    ):
        return timm_ge.GatherExcite(channels, **kwargs)


def _ge_local(extent: int, params: bool, mlp: bool) -> Row:
    """GatherExcite(C, extent=2 or 4, extra_params=..., use_mlp=...) onto `timm_gather`."""
    kwargs = {"extent": extent} | ({"extra_params": True} if params else {})
    kwargs |= {} if mlp else {"use_mlp": False}
    names: dict[str, str] = {}
    if params:  # timm's gather.conv1, conv2 are our conv_stage, conv_stage_1, in order
        for i in range(extent.bit_length() - 1):
            stage = "c.conv_stage" + (f"_{i}" if i else "")
            names |= _conv(f"gather.conv{i + 1}", f"{stage}.conv2d", bias=False)
            names |= _bn(f"gather.norm{i + 1}", f"{stage}.bn")
    if mlp:
        names |= {**_conv("mlp.fc1", "c.ge_mlp.conv2d"), **_conv("mlp.fc2", "c.ge_mlp.conv2d_1")}
    suffix = f"e{extent}" + ("_params" if params else "") + ("" if mlp else "_nomlp")
    arguments = ", ".join(f"{k}={v}" for k, v in kwargs.items())
    note = "learned gather: depth-wise stride-2 convs with BN" if params else "average pooling"
    return Row(
        "ge",
        f"GatherExcite(C, {arguments})",
        "timm_gather",
        f"ge_{suffix}",
        lambda c: gather_excite(c, **kwargs),
        names,
        note=f"{note}, {'its MLP' if mlp else 'no MLP'}, resized back by nearest",
        variant=suffix.replace("_", "-"),
        sizes=((16, 7, 7), (32, 10, 13)),  # where ceil(H / e) is not H / e
    )


ROWS: tuple[Row, ...] = (
    Row(
        "se",
        "SEModule(C)",
        "timm_channel",
        "se",
        SEModule,
        {**_conv("fc1", "e.conv2d"), **_conv("fc2", "e.conv2d_1")},
    ),
    Row(
        "ese",
        "EffectiveSEModule(C)",
        "timm_channel",
        "ese",
        EffectiveSEModule,
        _conv("fc", "e.conv2d"),
        note="gate hard_sigmoid, timm's default for ESE",
    ),
    Row(
        "eca",
        "EcaModule(C)",
        "timm_channel",
        "eca",
        EcaModule,
        _conv("conv", "e.conv1d.conv", bias=False),
        note="timm picks the kernel from log2(C); the space writes that rule as steps in C",
    ),
    Row(
        "ecam",
        "EcaModule(C, use_mlp=True)",
        "timm_channel",
        "ecam",
        lambda c: EcaModule(c, use_mlp=True),
        {**_conv("conv", "e.hidden_conv2d"), **_conv("conv2", "e.conv2d")},
        note="the channels permuted into a sequence for its MLP; kernel as for eca",
    ),
    Row(
        "ceca",
        "CecaModule(C)",
        "timm_channel",
        "ceca",
        CecaModule,
        _conv("conv", "e.conv1d.conv", bias=False),
        note="circular padding; kernel as for eca",
    ),
    Row(
        "ge",
        "GatherExcite(C)",
        "timm_channel",
        "ge",
        gather_excite,
        {**_conv("mlp.fc1", "e.conv2d"), **_conv("mlp.fc2", "e.conv2d_1")},
        note="global extent with its MLP; timm 1.0.31 needs its `*dd` typo fixed to build it",
    ),
    Row(
        "ge",
        "GatherExcite(C, use_mlp=False)",
        "timm_channel",
        "ge_nomlp",
        lambda c: gather_excite(c, use_mlp=False),
        note="global extent, parameter-free",
        variant="no_mlp",
    ),
    *(
        _ge_local(extent, params, mlp)
        for params in (False, True)
        for extent in (2, 4)
        for mlp in (True, False)
    ),
    Row(
        "gc",
        "GlobalContext(C)",
        "timm_context",
        "gc",
        GlobalContext,
        {**_conv("conv_attn", "c.conv2d"), **_ln_mlp("mlp_scale", "s.ln_mlp")},
        note="attention pooling as a softmax over the positions and a sum",
    ),
    Row(
        "gc",
        "GlobalContext(C, use_attn=False)",
        "timm_context",
        "gc_mean",
        lambda c: GlobalContext(c, use_attn=False),
        _ln_mlp("mlp_scale", "s.ln_mlp"),
        note="the mean as context",
        variant="mean",
    ),
    Row(
        "gca",
        "GlobalContext(C, fuse_add=True, fuse_scale=False)",
        "timm_context",
        "gca",
        lambda c: GlobalContext(c, fuse_add=True, fuse_scale=False),
        {**_conv("conv_attn", "c.conv2d"), **_ln_mlp("mlp_add", "a")},
    ),
    Row(
        "gc",
        "GlobalContext(C, fuse_add=True)",
        "timm_context",
        "gc_both",
        lambda c: GlobalContext(c, fuse_add=True),
        {
            **_conv("conv_attn", "c.conv2d"),
            **_ln_mlp("mlp_scale", "s.ln_mlp"),
            **_ln_mlp("mlp_add", "a"),
        },
        note="both fusions, GCNet's full block",
        variant="both",
    ),
    Row(
        "nl",
        "NonLocalAttn(C)",
        "timm_nonlocal",
        "nl",
        NonLocalAttn,
        _non_local("y"),
        note="affinities by rearrange and matmul, scaled by `scale(by=C, power=-0.5)`",
    ),
    Row(
        "nl",
        "NonLocalAttn(C, use_scale=False)",
        "timm_nonlocal",
        "nl_noscale",
        lambda c: NonLocalAttn(c, use_scale=False),
        _non_local("y"),
        variant="noscale",
    ),
    Row(
        "bat",
        "BatNonLocalAttn(C)",
        "timm_bat",
        "bat",
        BatNonLocalAttn,
        _bat("y", "y.y_bilinear"),
        note="the Kronecker products as reshapes around matmul; at multiples of block = 7",
        sizes=((16, 14, 14), (32, 7, 21)),
    ),
    Row(
        "bat",
        "BatNonLocalAttn(C, groups=1)",
        "timm_bat",
        "bat_g1",
        lambda c: BatNonLocalAttn(c, groups=1),
        _bat("y", "y.y_bilinear"),
        variant="g1",
        sizes=((16, 14, 14), (32, 7, 21)),
    ),
    Row(
        "cbam",
        "CbamModule(C)",
        "timm_cbam",
        "cbam",
        CbamModule,
        {
            **_conv("channel.fc1", "c.mlp.conv2d", bias=False),
            **_conv("channel.fc2", "c.mlp.conv2d_1", bias=False),
            **_conv("spatial.conv.conv", "s.conv2d", bias=False),
            **_bn("spatial.conv.bn", "s.bn"),
        },
    ),
    Row(
        "lcbam",
        "LightCbamModule(C)",
        "timm_cbam",
        "lcbam",
        LightCbamModule,
        {
            **_conv("channel.fc1", "c.cbam_mlp.conv2d", bias=False),
            **_conv("channel.fc2", "c.cbam_mlp.conv2d_1", bias=False),
            **_conv("spatial.conv.conv", "s.conv2d", bias=False),
            **_bn("spatial.conv.bn", "s.bn"),
        },
    ),
    Row(
        "coord",
        "CoordAttn(C)",
        "timm_coord",
        "coord",
        CoordAttn,
        {
            **_conv("conv1", "y.y_conv2d", bias=False),
            **_bn("bn1", "y.y_bn"),
            **_conv("conv_h", "y.a_h_conv2d", bias=False),
            **_conv("conv_w", "y.a_w_conv2d", bias=False),
        },
        note='strips joined by `concat(along="h")`, one BN over both, cut by `narrow`',
    ),
    Row(
        "scoord",
        "SimpleCoordAttn(C)",
        "timm_coord",
        "scoord",
        SimpleCoordAttn,
        {
            **_conv("fc1", "y.encode"),
            **_conv("fc_h", "y.rows_conv2d"),
            **_conv("fc_w", "y.cols_conv2d"),
        },
        note="timm's linear layers are 1x1 convs here, weights reshaped",
    ),
    Row(
        "ela",
        "EfficientLocalAttn(C)",
        "timm_coord",
        "ela",
        EfficientLocalAttn,
        {
            **_conv("conv_h", "y.rows_conv2d", bias=False),
            **_conv("conv_w", "y.cols_conv2d", bias=False),
            **_conv("norm_h", "y.a_h_group_norm"),
            **_conv("norm_w", "y.a_w_group_norm"),
        },
    ),
    Row(
        "strip",
        "StripAttn(C)",
        "timm_coord",
        "strip",
        StripAttn,
        {
            **_conv("conv_h", "y.rows_conv2d", bias=False),
            **_conv("conv_w", "y.cols_conv2d", bias=False),
        },
    ),
)

# Modules that replace a network's convolutions rather than gate a feature map: out of the design
# (docs/coverage.md says why).
REPLACES_CONVOLUTIONS: dict[str, str] = {
    "sk": "SelectiveKernel",
    "splat": "SplitAttn",
    "lambda": "LambdaLayer",
    "bottleneck": "BottleneckAttn",
    "halo": "HaloAttn",
}

# Gating modules (or variants) not yet a genotype of a shipped space: (timm name, module, what
# the language lacks for it).
NOT_YET: tuple[tuple[str, str, str], ...] = ()


def timm_names() -> list[str]:
    """Every name timm's create_attn accepts, read from its source in order."""
    module = importlib.import_module("timm.layers.create_attn")  # timm.layers.create_attn is
    source = inspect.getsource(module.get_attn)  # also the name of the function
    return re.findall(r"attn_type == '(\w+)'", source)


BEGIN, END = "<!-- coverage:begin -->", "<!-- coverage:end -->"


def coverage_table() -> str:
    rows = [
        "| timm name | timm module | space | genotype | note | test |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for row in ROWS:
        rows.append(
            f"| `{row.timm}` | `{row.module}` | `spaces/{row.space}.space` | `{row.genotype}` "
            f"| {row.note or '-'} | `{row.test}` |"
        )
    for name, module, missing in NOT_YET:
        rows.append(f"| `{name}` | `{module}` | not yet | - | needs {missing} | - |")
    for name, module in REPLACES_CONVOLUTIONS.items():
        rows.append(
            f"| `{name}` | `{module}` | out of the design | - | replaces a convolution "
            "(below) | - |"
        )
    return "\n".join(rows)
