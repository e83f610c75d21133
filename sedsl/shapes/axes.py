"""Axes of a tensor, named in a string: the `over` of reductions and softmax, and the
einops-style patterns of `permute`, `reshape` and `rearrange`.

`over` names axes either by the letters of the block layout [B, C, H, W] (`"hw"`, `"c"`,
`"h"`; rank-4 tensors only) or by number, comma-separated (`"-1"`, `"2, 3"`; any rank).
The batch axis (0) cannot be named: an attention block never mixes samples.

A pattern is `left -> right`. Each side lists the axes: a name, `1` (an axis of size one)
or a group `(h w)` of names (one axis holding several, flattened in that order). Names are
local to the pattern. The left side names every axis of the input; the right side uses
every name once. Sizes of names inside a left group come from keyword arguments
(`h=H`), all but one, whose size is what is left. The batch axis stays first and whole.

Everything here is pure: parsing, the shape rule over symbolic dims, and the sequence of
torch calls (unflatten, squeeze, permute, flatten, unsqueeze) that realises a pattern.
"""

from __future__ import annotations

import re

from sedsl.frozen import frozen
from sedsl.shapes.dims import Dim

LAYOUT = "bchw"  # the letters `over` may use on a rank-4 tensor


class AxesError(ValueError):
    """A malformed `over` or pattern, or one that does not fit the tensor; the message is
    the diagnostic's."""


# ---- over -------------------------------------------------------------------------------


def over_axes(over: str, rank: int) -> tuple[int, ...]:
    """The axes `over` names on a tensor of `rank`, as sorted non-negative numbers."""
    text = over.strip()
    if not text:
        raise AxesError("`over` names no axis")
    if re.fullmatch(r"[a-z]+", text):
        if rank != 4:
            raise AxesError(
                f'letters ("{text}") name the axes of a [B, C, H, W] tensor; this one has '
                f'rank {rank}: give axis numbers, e.g. over="-1" or over="1, 2"'
            )
        unknown = sorted(set(text) - set(LAYOUT))
        if unknown:
            raise AxesError(f'`over` letters are c, h and w; "{unknown[0]}" is not one')
        axes = [LAYOUT.index(ch) for ch in text]
    else:
        parts = [p for p in re.split(r"[,\s]+", text) if p]
        if not all(re.fullmatch(r"-?\d+", p) for p in parts):
            raise AxesError(
                f'`over` is letters of c, h, w ("hw") or axis numbers ("-1", "2, 3"), got "{over}"'
            )
        axes = []
        for part in parts:
            axis = int(part)
            if not -rank <= axis < rank:
                raise AxesError(f"axis {axis} is out of range for a tensor of rank {rank}")
            axes.append(axis % rank)
    if 0 in axes:
        raise AxesError("the batch axis cannot be reduced over: that would mix samples")
    if len(set(axes)) != len(axes):
        raise AxesError(f'`over` names an axis twice: "{over}"')
    return tuple(sorted(axes))


def reduced(shape: tuple[Dim, ...], axes: tuple[int, ...]) -> tuple[Dim, ...]:
    """`shape` with `axes` kept as size one (every reduction keeps its axes)."""
    return tuple(Dim.const(1) if i in axes else d for i, d in enumerate(shape))


def window(shape: tuple[Dim, ...], axes: tuple[int, ...]) -> Dim:
    """Elements per sample an op over `axes` must see before its first value exists, with
    the input streamed position by position (rows, then columns, channels per position):
    on [B, C, H, W], all of it over h, a row (C * W) over w, one position (C) over c.
    Another layout (a permuted or reshaped tensor) counts the whole tensor."""
    if len(shape) != 4:
        return numel(shape)
    _, c, h, w = shape
    if 2 in axes:
        return c * h * w
    return c * w if 3 in axes else c


def numel(shape: tuple[Dim, ...]) -> Dim:
    """Elements per sample: the product of every axis but the batch."""
    total = Dim.const(1)
    for d in shape[1:]:
        total = total * d
    return total


# ---- patterns ---------------------------------------------------------------------------

Token = str | tuple[str, ...]  # a name, "1", or a group of names


@frozen
class Pattern:
    left: tuple[Token, ...]
    right: tuple[Token, ...]

    def names(self, side: tuple[Token, ...]) -> list[str]:
        out: list[str] = []
        for token in side:
            if isinstance(token, tuple):
                out.extend(token)
            elif token != "1":
                out.append(token)
        return out

    @property
    def groups(self) -> bool:
        return any(isinstance(t, tuple) or t == "1" for t in (*self.left, *self.right))

    @property
    def permutes(self) -> bool:
        return self.names(self.left) != self.names(self.right)


_TOKEN = re.compile(r"\s*(?:(\()|(\))|(1)|([A-Za-z_]\w*)|(\S))")


def _side(text: str, which: str) -> tuple[Token, ...]:
    tokens: list[Token] = []
    group: list[str] | None = None
    for m in _TOKEN.finditer(text):
        opening, closing, one, name, other = m.groups()
        if other is not None:
            raise AxesError(f"unexpected `{other}` on the {which} of the pattern")
        if opening:
            if group is not None:
                raise AxesError("groups do not nest: `(a (b c))`")
            group = []
        elif closing:
            if group is None:
                raise AxesError(f"`)` without `(` on the {which} of the pattern")
            if not group:
                raise AxesError("an empty group `()`")
            tokens.append(tuple(group))
            group = None
        elif one:
            if group is not None:
                raise AxesError("`1` cannot be inside a group")
            tokens.append("1")
        elif name:
            (group if group is not None else tokens).append(name)
    if group is not None:
        raise AxesError(f"`(` without `)` on the {which} of the pattern")
    if not tokens:
        raise AxesError(f"the {which} of the pattern names no axis")
    return tuple(tokens)


def parse_pattern(text: str) -> Pattern:
    if text.count("->") != 1:
        raise AxesError('a pattern is "input axes -> output axes", e.g. "b c h w -> b h c w"')
    left_text, right_text = text.split("->")
    pattern = Pattern(_side(left_text, "left"), _side(right_text, "right"))
    for which, side in (("left", pattern.left), ("right", pattern.right)):
        names = pattern.names(side)
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise AxesError(f"`{twice[0]}` appears twice on the {which} of the pattern")
    left, right = set(pattern.names(pattern.left)), set(pattern.names(pattern.right))
    if left - right:
        raise AxesError(
            f"`{sorted(left - right)[0]}` is on the left but not on the right: axes are "
            "moved or grouped, never dropped (reduce them first, e.g. avg_pool)"
        )
    if right - left:
        raise AxesError(f"`{sorted(right - left)[0]}` is on the right but not on the left")
    batch = pattern.left[0]
    if isinstance(batch, tuple) or batch == "1" or pattern.right[0] != batch:
        raise AxesError("the batch axis stays first and whole on both sides")
    return pattern


def pattern_shape(
    pattern: Pattern, shape: tuple[Dim, ...], sizes: dict[str, Dim], require
) -> tuple[tuple[Dim, ...], dict[str, Dim]]:
    """The output shape and each name's size. `require(lhs, op, rhs, reason)` records a
    size condition the checker proves or evaluates at the instantiation points."""
    left_names = set(pattern.names(pattern.left))
    stray = sorted(set(sizes) - left_names)
    if stray:
        raise AxesError(f"`{stray[0]}` is not an axis of the pattern")
    if len(pattern.left) != len(shape):
        raise AxesError(
            f"the pattern's left side has {len(pattern.left)} axes, the input has {len(shape)}"
        )
    size: dict[str, Dim] = {}
    for token, dim in zip(pattern.left, shape, strict=True):
        if token == "1":
            if dim.is_const and not dim.is_int(1):
                raise AxesError(f"`1` in the pattern stands for an axis of size {dim}")
            require(dim, "==", 1, "`1` in the pattern is an axis of size one")
        elif isinstance(token, str):
            size[token] = dim
            if token in sizes:
                require(dim, "==", sizes[token], f"the pattern gives `{token}` = {sizes[token]}")
        else:
            unknown = [n for n in token if n not in sizes]
            if len(unknown) > 1:
                raise AxesError(
                    f"the group ({' '.join(token)}) needs the size of all but one of its "
                    f"names, e.g. {token[0]}=H"
                )
            known = Dim.const(1)
            for n in token:
                if n in sizes:
                    size[n] = sizes[n]
                    known = known * sizes[n]
            group = f"({' '.join(token)})"
            if unknown:
                require(dim % known, "==", 0, f"the sizes of {group} must divide {dim}")
                size[unknown[0]] = dim.exact_div(known)
            else:
                require(dim, "==", known, f"the sizes of {group} must multiply to {dim}")
    out = []
    for token in pattern.right:
        if token == "1":
            out.append(Dim.const(1))
        elif isinstance(token, str):
            out.append(size[token])
        else:
            product = Dim.const(1)
            for n in token:
                product = product * size[n]
            out.append(product)
    return tuple(out), size


def pattern_calls(pattern: Pattern, sizes: dict[str, str]) -> list[str]:
    """The torch method calls, in order, that turn the input into the output (`sizes`:
    Python expressions of the names given by keyword). Unit axes on both sides are paired
    in order and kept; only the extra ones are squeezed or added."""
    left, right = _units(pattern.left), _units(pattern.right)
    kept = min(sum(t == "1" for t in pattern.left), sum(t == "1" for t in pattern.right))
    calls: list[str] = []
    # unflatten left groups and drop extra left `1`s, right to left so earlier indices hold
    for axis in reversed(range(len(left))):
        token = left[axis]
        if isinstance(token, str) and _extra(token, kept):
            calls.append(f"squeeze({axis})")
        elif isinstance(pattern.left[axis], tuple) and len(pattern.left[axis]) > 1:
            parts = ", ".join(sizes.get(n, "-1") for n in pattern.left[axis])
            calls.append(f"unflatten({axis}, ({parts}))")
    elementary = [n for n in _flat(pattern.left, left) if not _extra(n, kept)]
    target = [n for n in _flat(pattern.right, right) if not _extra(n, kept)]
    if elementary != target:
        calls.append(f"permute({', '.join(str(elementary.index(n)) for n in target)})")
    for position, token in enumerate(pattern.right):
        if token == "1" and _extra(right[position], kept):
            calls.append(f"unsqueeze({position})")
        elif isinstance(token, tuple) and len(token) > 1:
            calls.append(f"flatten({position}, {position + len(token) - 1})")
    return calls


def _units(side: tuple[Token, ...]) -> list:
    """The side's tokens with its `1`s numbered (`1#0`, `1#1`, ...) in order."""
    out, count = [], 0
    for token in side:
        if token == "1":
            out.append(f"1#{count}")
            count += 1
        else:
            out.append(token)
    return out


def _flat(side: tuple[Token, ...], numbered: list) -> list[str]:
    out: list[str] = []
    for token, label in zip(side, numbered, strict=True):
        out.extend(token if isinstance(token, tuple) else [label])
    return out


def _extra(name: str, kept: int) -> bool:
    return name.startswith("1#") and int(name[2:]) >= kept
