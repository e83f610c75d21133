"""Helpers that generated code needs beyond `torch.nn`.

This is real, tested Python; the generator copies the source of the helpers a file uses
(found with `ast`, so generating never imports torch) into that file, which keeps every
generated `fixed.py` standalone.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn


def std_pool(x: Tensor, dims: tuple[int, ...], eps: float = 1e-10, unbiased: bool = True) -> Tensor:
    """Standard deviation over `dims` (SRM), unbiased as in the SASE code (`torch.std`) unless
    `unbiased` is false (divided by n, as the SRM paper defines it);
    the tiny eps keeps the gradient finite on a constant input, where sqrt has none.
    Two-pass (centre, then square), written out: the same value as `x.var`, which on CPU
    is several times slower over the channel axis (benchmarks/supernet_step.py)."""
    count = 1
    for d in dims:
        count *= x.shape[d]
    centred = x - x.mean(dim=dims, keepdim=True)
    variance = centred.square().sum(dim=dims, keepdim=True) / (count - 1 if unbiased else count)
    return (variance + eps).sqrt()


def skew_pool(x: Tensor, dims: tuple[int, ...]) -> Tensor:
    """Third central moment over `dims`, as the SASE code computes "skew pooling" (MCA):
    mean((x - mean)^3), not divided by sigma^3."""
    centred = x - x.mean(dim=dims, keepdim=True)
    return (centred.square() * centred).mean(dim=dims, keepdim=True)


def lp_pool(x: Tensor, dims: tuple[int, ...], p: float) -> Tensor:
    """L_p pooling, (sum x^p)^(1/p) over `dims` (SASE, eq. in "Lp-pooling"): a sum, not a
    mean, no eps and no abs, as the paper and its code define it. p = 4, the paper's
    choice, squares twice instead of calling the slower general pow."""
    powered = x.square().square() if p == 4 else x.pow(p)
    return powered.sum(dim=dims, keepdim=True).pow(1.0 / p)


def softmax_over(x: Tensor, dims: tuple[int, ...]) -> Tensor:
    """Softmax over several axes jointly (one distribution over all positions with
    dims=(2, 3), GCNet's attention), the same value as flattening them and calling
    torch.softmax, for any axes, contiguous or not."""
    shifted = (x - x.amax(dim=dims, keepdim=True)).exp()
    return shifted / shifted.sum(dim=dims, keepdim=True)


def split_even(x: Tensor, parts: int, dim: int, where: str = "split") -> tuple[Tensor, ...]:
    """`parts` equal parts of `x` along `dim`. The checker proves they divide evenly at the
    declared points; at a size where they do not, this raises rather than returning
    torch.chunk's unequal (or fewer) parts, which a later op might silently accept.
    `where` names the split (its node and op) for the message."""
    if x.shape[dim] % parts:
        raise ValueError(
            f"{where}: {parts} equal parts along dim {dim} of size {x.shape[dim]} do not divide "
            f"it (`sedsl check`'s `sizes` verdict covers the sizes, but the split also needs "
            f"this axis divisible by {parts})"
        )
    return torch.chunk(x, parts, dim=dim)


def split_at(x: Tensor, at: int, dim: int, where: str = "split") -> tuple[Tensor, Tensor]:
    """The first `at` elements of `x` along `dim`, and the rest. Both hold at least one, as
    the checker proves at the declared points; at a size where one would be empty this
    raises rather than passing an empty tensor on. `where` names the split for the message."""
    if not 0 < at < x.shape[dim]:
        raise ValueError(
            f"{where}: split at {at} along dim {dim} of size {x.shape[dim]} leaves an empty "
            f"part (`sedsl check`'s `sizes` verdict covers the sizes, but the split also needs "
            f"this axis longer than {at})"
        )
    return torch.tensor_split(x, (at,), dim=dim)


def tile_broadcast(y: Tensor, tile_h: int, tile_w: int, height: int, width: int) -> Tensor:
    """Nearest-neighbour broadcast of per-tile values back to the map (TSE, Figure A1)."""
    y = torch.repeat_interleave(y, tile_h, dim=-2)[:, :, :height, :]
    return torch.repeat_interleave(y, tile_w, dim=-1)[:, :, :, :width]


def size_at(value: int | Callable[..., int], *dims: int) -> int:
    """A size given as a number, or as a function of the input's dims (`lambda channels,
    height, width: height` for a tile as high as the map), evaluated at the dims of the
    input at hand so that it follows the input."""
    return value(*dims) if callable(value) else value


def check_size(pinned_by: list[str], built: tuple[int, int], x: Tensor) -> None:
    """Refuse an input of another height or width than the block was built for when one of
    its ops (`pinned_by`) has weights shaped by them (an affine map per position, LayerNorm
    over (H, W)): at another size the block would compute another function, or fail."""
    given = (x.shape[-2], x.shape[-1])
    if pinned_by and given != built:
        raise ValueError(
            f"{pinned_by[0]} has weights shaped by the input's height and width: built for "
            f"{built[0]} x {built[1]}, given {given[0]} x {given[1]}"
        )


class Mix(nn.Module):
    """Mixes n same-shaped inputs with n weights shared over channels, no bias: the 1x1
    conv 2 -> 1 that combines GAP and GMP in SASE's squeeze candidates."""

    def __init__(self, n: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(n).uniform_(-(n**-0.5), n**-0.5))

    def forward(self, *xs: Tensor) -> Tensor:
        # mix's signature takes one shape, and the checker holds it to that: broadcasting a
        # map with a descriptor here would run a space the checker rejects
        if any(x.shape != xs[0].shape for x in xs[1:]):
            shapes = ", ".join(str(list(x.shape)) for x in xs)
            raise ValueError(f"mix takes inputs of one shape, given {shapes}")
        out = xs[0] * self.weight[0]
        for i, x in enumerate(xs[1:], start=1):
            out = out + x * self.weight[i]
        return out


class Affine(nn.Module):
    """alpha * x + beta with one (alpha, beta) per element of `shape` (GCT / EAN
    excitation); alpha starts at 1 and beta at 0."""

    def __init__(self, *shape: int):
        super().__init__()
        self.alpha = nn.Parameter(torch.ones(1, *shape))
        self.beta = nn.Parameter(torch.zeros(1, *shape))

    def forward(self, x: Tensor) -> Tensor:
        return x * self.alpha + self.beta


class ChannelConv1d(nn.Module):
    """A 1D convolution across the channels of a [B, C, 1, 1] descriptor (ECA; CECA pads
    circularly)."""

    def __init__(self, kernel_size: int, bias: bool = False, circular: bool = False):
        super().__init__()
        self.conv = nn.Conv1d(
            1,
            1,
            kernel_size,
            padding=(kernel_size - 1) // 2,
            bias=bias,
            padding_mode="circular" if circular else "zeros",
        )

    def forward(self, x: Tensor) -> Tensor:
        b, c = x.shape[0], x.shape[1]
        return self.conv(x.reshape(b, 1, c)).reshape(b, c, 1, 1)


class CovariancePool(nn.Module):
    """Global second-order pooling (GSoP) shaped for a channel squeeze, as the SASE code
    does it: average groups of `reduction` channels, centre over positions, channel
    covariance (divided by c - 1), BN, a row-wise (grouped) conv, ReLU, 1x1 conv to C."""

    def __init__(self, channels: int, reduction: int = 4):
        super().__init__()
        reduced = max(2, channels // reduction)
        self.reduced = reduced
        self.norm = nn.BatchNorm2d(reduced)
        self.row_conv = nn.Conv2d(reduced, reduced, (reduced, 1), groups=reduced, bias=False)
        self.expand = nn.Conv2d(reduced, channels, 1, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        b, c, h, w = x.shape
        if c % self.reduced == 0:  # equal groups: the adaptive pooling is a mean per group
            z = x.reshape(b, self.reduced, c // self.reduced, h * w).mean(dim=2)
        else:
            z = nn.functional.adaptive_avg_pool1d(x.flatten(2).transpose(1, 2), self.reduced)
            z = z.transpose(1, 2)  # [B, c, HW]
        z = z - z.mean(dim=2, keepdim=True)
        cov = (z @ z.transpose(1, 2) / (self.reduced - 1)).unsqueeze(-1)  # [B, c, c, 1]
        rows = torch.relu(self.row_conv(self.norm(cov)))  # [B, c, 1, 1]
        return self.expand(rows)


class SpatialCovariancePool(nn.Module):
    """GSoP along channels for a spatial squeeze, as the SASE code does it: pool the map
    to `grid` x `grid` positions, covariance of positions over channels, BN, row-wise conv,
    ReLU, 1x1 conv (no bias), then adaptive average pooling back to H x W.

    Both convs are bias-free and the way back is `adaptive_avg_pool2d`, as in the code's
    `BilinearPooling_sp` (docs/reference-ops.md 1.3). Adaptive pooling of the 8 x 8 grid
    equals a nearest upsample only when H and W are multiples of 8; at 14 x 14 or 7 x 7
    (ResNet-50's stages) its windows overlap and average neighbouring grid cells."""

    def __init__(self, channels: int, grid: int = 8):
        super().__init__()
        n = grid * grid
        self.grid = grid
        self.norm = nn.BatchNorm2d(n)
        self.row_conv = nn.Conv2d(n, n, (n, 1), groups=n, bias=False)
        self.expand = nn.Conv2d(n, n, 1, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        b, c, h, w = x.shape
        g = self.grid
        # at H = W = grid the pooling is the identity, which ATen's adaptive pooling still
        # runs (forward and backward) at the cost of a pass or two (CIFAR's 8 x 8 stage)
        z = x if (h, w) == (g, g) else nn.functional.adaptive_avg_pool2d(x, g)
        z = z.flatten(2)  # [B, C, n]
        z = z - z.mean(dim=1, keepdim=True)  # centred over channels
        # the covariance of positions, z^T z, without materialising the transpose
        cov = (z.transpose(1, 2) @ z / (z.shape[2] - 1)).unsqueeze(-1)
        rows = self.expand(torch.relu(self.row_conv(self.norm(cov))))  # [B, n, 1, 1]
        grid = rows.reshape(b, 1, g, g)
        if h % g == 0 and w % g == 0:  # each window one grid cell: adaptive pooling is a
            # repeat of the cells, the same values; as a broadcast it is ~3x faster
            kh, kw = h // g, w // g
            return grid[:, :, :, None, :, None].expand(b, 1, g, kh, g, kw).reshape(b, 1, h, w)
        return nn.functional.adaptive_avg_pool2d(grid, (h, w))


class NormL2Pool(nn.Module):
    """Instance normalisation then the L2 norm (EAN / GCT squeeze), as the SASE code has it.
    Over H, W (`dims=(2, 3)`): InstanceNorm2d(affine) then the norm per channel, which is
    constant in the input (IN leaves unit variance). Over C (`dims=(1,)`): LayerNorm over
    (H, W) per channel map, then the norm across channels per position."""

    def __init__(self, channels: int, height: int, width: int, dims: tuple[int, ...]):
        super().__init__()
        self.dims = dims
        if dims == (2, 3):
            self.norm = nn.InstanceNorm2d(channels, affine=True)
        else:
            self.norm = nn.LayerNorm((height, width))

    def forward(self, x: Tensor) -> Tensor:
        if self.dims == (2, 3):
            # IN's output is g * (x - m) / sqrt(v + eps) + b with mean 0 over H, W, so its
            # squared norm there is n * (g^2 v / (v + eps) + b^2), v the biased variance:
            # the same value without materialising the normalised map.
            n = x.shape[2] * x.shape[3]
            var = x.var(dim=(2, 3), unbiased=False, keepdim=True)
            weight = self.norm.weight.reshape(1, -1, 1, 1)
            bias = self.norm.bias.reshape(1, -1, 1, 1)
            return (n * (weight * weight * var / (var + self.norm.eps) + bias * bias)).sqrt()
        return self.norm(x).pow(2).sum(dim=self.dims, keepdim=True).sqrt()


def load_extern(op: str, target: str):
    """The callable that extern op `op` names as "package.module:attribute", imported now
    (when a block is built), with an error naming the op and the missing part."""
    import difflib
    import importlib

    module_name, _, attribute = target.partition(":")
    try:
        found = importlib.import_module(module_name)
    except ImportError as err:
        raise ImportError(
            f'extern op `{op}` needs module `{module_name}` ("{target}"), which cannot be '
            f"imported: {err}; install it, or put its folder on PYTHONPATH"
        ) from err
    for depth, part in enumerate(attribute.split(".")):
        if not hasattr(found, part):
            where = ".".join([module_name, *attribute.split(".")[:depth]])
            close = difflib.get_close_matches(part, [n for n in dir(found) if n[:1] != "_"])
            hint = f"; did you mean `{close[0]}`?" if close else ""
            raise ImportError(
                f'extern op `{op}`: `{where}` has no attribute `{part}` ("{target}"){hint}'
            )
        found = getattr(found, part)
    if not callable(found):
        raise TypeError(
            f'extern op `{op}`: "{target}" is a {type(found).__name__}, not a class or function'
        )
    return found


class ExternOp(nn.Module):
    """A user's own op (`extern op` in the space). A class is built once with the declared
    arguments (an nn.Module's weights become this module's); a function is called with the
    tensors, then those arguments. Every result is checked against the declared shape."""

    def __init__(self, op: str, target: str, declared: str, args: tuple, kwargs: dict):
        super().__init__()
        self.name, self.target, self.declared = op, target, declared
        found = load_extern(op, target)
        if isinstance(found, type):
            try:
                self.inner = found(*args, **kwargs)
            except TypeError as err:
                given = ", ".join([*map(repr, args), *(f"{k}={v!r}" for k, v in kwargs.items())])
                raise TypeError(
                    f'extern op `{op}`: cannot build "{target}"({given}): {err}'
                ) from err
            self.args, self.kwargs = (), {}
        else:
            self.inner, self.args, self.kwargs = found, tuple(args), dict(kwargs)

    def forward(self, *tensors: Tensor, expected: tuple[int, ...]) -> Tensor:
        out = self.inner(*tensors, *self.args, **self.kwargs)
        if not isinstance(out, Tensor):
            raise TypeError(
                f'extern op `{self.name}` ("{self.target}") returned a '
                f"{type(out).__name__}, not a tensor"
            )
        if tuple(out.shape) != tuple(expected):
            got = ", ".join(map(str, out.shape))
            want = ", ".join(map(str, expected))
            shapes = " and ".join(f"[{', '.join(map(str, t.shape))}]" for t in tensors)
            raise ValueError(
                f'extern op `{self.name}` ("{self.target}") returned shape [{got}], but the '
                f"space declares {self.declared}, which is [{want}] for input {shapes}"
            )
        return out
