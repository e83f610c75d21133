"""Cost-aware search: the expected cost of the architecture under the softmax of the alphas.

``sedsl search --cost KIND --cost-weight LAMBDA`` adds ``LAMBDA * E[cost] / cost_max`` to the
architecture loss. The cost model is ``sedsl cost``'s (sedsl/cost/), evaluated once, when the
search is built, at the (C, H, W) of every insertion point of the network being searched:

- ``buffer``: the manifest's per-candidate buffer expressions (``edges[].buffer``) and the block's
  fixed part (``buffer.fixed``). A block's buffer is the *maximum* over its fixed part and its
  chosen candidates (docs/cost.md), so the expectation is that of the maximum, with the edges'
  choices drawn independently from their softmaxes: exact, differentiable in the alphas, and for
  a one-edge space simply ``sum_k softmax_k * buffer_k``.
- ``params`` / ``macs``: each candidate of each edge is built by ``CANDIDATE_FACTORIES`` at each
  insertion point and measured (parameters counted, MACs with FlopCounterMode on the meta device
  at the edge's input shape from the manifest). Both are additive, so the expectation is
  ``shared + sum_edges sum_k softmax_k * cost_k``; ``shared`` (the block outside its edges) is
  ``build_fixed`` of one genotype minus its candidates, a constant.

All costs are summed over the insertion points (a network's cost, as ``sedsl cost`` reports it).
``cost_max`` is the cost of the most expensive choice (for buffer, of the largest candidate at
every point, an upper bound when different candidates are largest at different points), so
LAMBDA is unitless: LAMBDA = 1 makes going from the most expensive architecture to a free one
worth one nat of validation cross-entropy. The term depends on the alphas only, so it adds to
the first- or second-order architecture gradient unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from .errors import SearchError
from .space import LoadedSpace

COST_KINDS = ("buffer", "macs", "params")
UNITS = {"buffer": "elements", "macs": "MACs", "params": "parameters"}
Shape = tuple[int, int, int]


@dataclass
class CostModel:
    """Per-candidate costs of one space at the insertion points of one network."""

    kind: str
    points: list[Shape]
    edges: tuple[str, ...]
    candidates: dict[str, tuple[str, ...]]
    table: dict[str, Tensor]  # edge -> [points, candidates] costs, float64
    shared: Tensor  # [points]: buffer's fixed part, or the block's cost outside its edges

    @property
    def maximum(self) -> float:
        """The cost of the most expensive choice (the normaliser of the loss term)."""
        if self.kind == "buffer":
            per_point = torch.stack([t.max(dim=1).values for t in self.table.values()], 1)
            return float(torch.maximum(per_point.max(dim=1).values, self.shared).sum())
        return float(self.shared.sum() + sum(t.sum(0).max() for t in self.table.values()))

    def expected(self, weights: Mapping[str, Tensor]) -> Tensor:
        """E[cost] under per-edge categorical choices with probabilities ``weights``."""
        probs = {e: weights[e].to(torch.float64) for e in self.edges}
        if self.kind != "buffer":
            total = self.shared.to(next(iter(probs.values())).device).sum()
            for edge in self.edges:
                total = total + (self.table[edge].to(probs[edge].device) @ probs[edge]).sum()
            return total
        device = next(iter(probs.values())).device
        total = torch.zeros((), dtype=torch.float64, device=device)
        for index in range(len(self.points)):
            costs = [self.table[e][index].to(device) for e in self.edges]
            total = total + _expected_max(
                costs, [probs[e] for e in self.edges], float(self.shared[index])
            )
        return total

    def chosen(self, genotype: Mapping[str, str]) -> float:
        """The cost of one architecture: what ``sedsl cost`` reports for it here."""
        columns = [self.table[e][:, self.candidates[e].index(genotype[e])] for e in self.edges]
        if self.kind == "buffer":
            return float(torch.stack([self.shared, *columns], 1).max(dim=1).values.sum())
        return float(self.shared.sum() + sum(c.sum() for c in columns))

    def summary(self, weight: float) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "weight": weight,
            "units": UNITS[self.kind],
            "normaliser": self.maximum,
            "points": [list(p) for p in self.points],
        }


def _expected_max(costs: Sequence[Tensor], probs: Sequence[Tensor], floor: float) -> Tensor:
    """E[max(floor, X_1, ..., X_n)], X_e independent with P(X_e = costs[e][k]) = probs[e][k]."""
    values = torch.unique(torch.cat([*costs, costs[0].new_tensor([floor])]))  # sorted
    cdf = (values >= floor).to(torch.float64)
    for cost, prob in zip(costs, probs, strict=True):
        cdf = cdf * ((cost[None, :] <= values[:, None]).to(prob.dtype) @ prob)
    pmf = cdf - torch.cat([cdf.new_zeros(1), cdf[:-1]])
    return (values * pmf).sum()


def build_cost_model(space: LoadedSpace, kind: str, points: Sequence[Shape]) -> CostModel:
    """Evaluate (buffer) or measure (params, MACs) every candidate at every point."""
    if kind not in COST_KINDS:
        raise SearchError(f"cost must be one of {', '.join(COST_KINDS)}, got {kind!r}")
    points = [tuple(int(v) for v in p) for p in points]
    edges, candidates = space.edges, space.candidates
    if kind == "buffer":
        table, shared = _buffer_table(space, points)
    else:
        table, shared = _measured_table(space, kind, points)
    return CostModel(
        kind=kind,
        points=points,  # type: ignore[arg-type]
        edges=edges,
        candidates=candidates,
        table={e: torch.tensor(table[e], dtype=torch.float64) for e in edges},
        shared=torch.tensor(shared, dtype=torch.float64),
    )


def _buffer_table(space: LoadedSpace, points: Sequence[Shape]):
    from sedsl.cost.buffer import ManifestError, point_env
    from sedsl.cost.expr import ExprError, evaluate

    manifest = space.manifest
    if not isinstance(manifest.get("buffer"), dict) or any(
        "buffer" not in e for e in manifest["edges"]
    ):
        raise SearchError(
            f"{space.path}: space.json has no buffer expressions, so --cost buffer cannot "
            "price its candidates; regenerate it with `sedsl generate spaces/<name>.space`"
        )
    fixed = str(manifest["buffer"].get("fixed", "0"))

    def value(text: str, env: Mapping[str, int]) -> int:
        try:
            return math.ceil(evaluate(text, env))
        except ExprError as exc:
            raise SearchError(f"{space.path}/space.json: {exc}") from exc

    table: dict[str, list[list[int]]] = {e["name"]: [] for e in manifest["edges"]}
    shared = []
    for point in points:
        try:
            env = point_env(manifest, point)
        except ManifestError as exc:
            raise SearchError(f"{space.path}/space.json: {exc}") from exc
        shared.append(value(fixed, env))
        for edge in manifest["edges"]:
            table[edge["name"]].append(
                [value(str(edge["buffer"][c]), env) for c in space.candidates[edge["name"]]]
            )
    return table, shared


def _measured_table(space: LoadedSpace, kind: str, points: Sequence[Shape]):
    from sedsl.cost.buffer import ManifestError, point_env
    from sedsl.cost.expr import ExprError, evaluate_int
    from sedsl.cost.macs import count_macs
    from sedsl.cost.params import count_params

    factories = getattr(space.supernet, "CANDIDATE_FACTORIES", None)
    if not isinstance(factories, Mapping):
        raise SearchError(
            f"{space.path}: supernet.py has no CANDIDATE_FACTORIES, so --cost {kind} cannot "
            "build its candidates; regenerate it with `sedsl generate spaces/<name>.space`"
        )
    edge_inputs = {e["name"]: e.get("input") for e in space.manifest["edges"]}

    def measure(module: torch.nn.Module, shape: tuple[int, ...]) -> int:
        if kind == "params":
            return count_params(module)
        return count_macs(module, shape)  # moves the throwaway module to the meta device

    def edge_shape(edge: str, point: Shape) -> tuple[int, ...]:
        dims = edge_inputs[edge]
        if not dims:
            return (1, *point)
        try:
            env = point_env(space.manifest, point)
            return (1, *(evaluate_int(str(d), env) for d in dims[1:]))
        except (ExprError, ManifestError) as exc:
            raise SearchError(f"{space.path}/space.json: edge {edge} input: {exc}") from exc

    first = {e: names[0] for e, names in space.candidates.items()}
    table: dict[str, list[list[int]]] = {e: [] for e in space.edges}
    shared = []
    with torch.random.fork_rng(devices=[]):  # building modules draws weights; keep the seed's
        for point in points:
            for edge in space.edges:
                shape = edge_shape(edge, point)  # factories take the edge's input (C, H, W)
                table[edge].append(
                    [measure(factories[edge][c](*shape[1:]), shape) for c in space.candidates[edge]]
                )
            block = measure(space.fixed.build_fixed(first, *point), (1, *point))
            shared.append(block - sum(table[e][-1][0] for e in space.edges))
    return table, shared
