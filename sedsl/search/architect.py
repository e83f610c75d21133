"""DARTS architecture steps, first and second order (Liu, Simonyan and Yang 2019, eq. 6-8).

Second order approximates the best-response weights by one step of the weight optimizer,

    w' = w - lr * d(w, alpha),     d = the SGD direction: grad_w L_train + wd * w + momentum * buf,

and follows the hypergradient of L_val(w'(alpha), alpha):

    grad_alpha = grad_alpha L_val(w', alpha) - lr * H v,    v = grad_w' L_val(w', alpha),
    H v = grad^2_{alpha, w} L_train(w, alpha) . v.

Every forward here is ``torch.func.functional_call`` on one parameter dict that names every weight
of the network, so the unrolled point w' moves every weight (the public SASE and AutoLA codes reload
the old weights of one stage through a module alias). The model itself is never modified: its BN
running statistics are replaced by scratch copies in every call, and only the alphas' ``.grad`` and
the arch optimizer change.

H v comes from either
- ``"finite"``: central differences, (grad_alpha L_train(w + eps v) - grad_alpha L_train(w - eps v))
  / (2 eps) with DARTS' eps = 0.01 / ||v||; two extra forward/backward passes; or
- ``"exact"``: double backward through the graph of grad_w L_train, which was built once (with
  ``create_graph``) for the unrolled step and is reused; an op without a double-backward formula
  raises SearchError instead of silently degrading to first order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call

from .errors import SearchError

Params = dict[str, Tensor]
Batch = tuple[Tensor, Tensor]
Reduce = Callable[[Sequence[Tensor]], None]
HvpMethod = Literal["finite", "exact"]


@dataclass(frozen=True)
class ArchStepResult:
    val_loss: float
    val_correct: int
    val_count: int


def no_reduce(_: Sequence[Tensor]) -> None:
    """Single process: gradients are already global."""


class Architect:
    """Computes and applies the architecture gradient for one (train batch, val batch) pair.

    ``reduce`` averages a list of tensors over data-parallel ranks in place; every quantity that
    is a mean over the batch (gradients, v, H v) is reduced once, before it is used.
    """

    def __init__(
        self,
        model: nn.Module,
        weight_names: Sequence[str],
        arch_names: Sequence[str],
        weight_optimizer: torch.optim.SGD,
        arch_optimizer: torch.optim.Optimizer,
        *,
        order: Literal[1, 2] = 2,
        hvp: HvpMethod = "finite",
        fd_eps: float = 0.01,
        reduce: Reduce = no_reduce,
        arch_penalty: Callable[[], Tensor] | None = None,
    ) -> None:
        if order not in (1, 2):
            raise SearchError(f"order must be 1 or 2, got {order!r}")
        if hvp not in ("finite", "exact"):
            raise SearchError(f"hvp must be 'finite' or 'exact', got {hvp!r}")
        if len(weight_optimizer.param_groups) != 1:
            raise SearchError("the unrolled step supports one weight-optimizer parameter group")
        self.model = model
        self.weight_names = list(weight_names)
        self.arch_names = list(arch_names)
        self.weight_optimizer = weight_optimizer
        self.arch_optimizer = arch_optimizer
        self.order = order
        self.hvp = hvp
        self.fd_eps = fd_eps
        self.reduce = reduce
        # a term of the architecture loss that depends on the alphas only (cost-aware search):
        # its gradient adds to the first- or second-order one, identical on every rank
        self.arch_penalty = arch_penalty
        self._parameters = dict(model.named_parameters())
        self._graph_checked = False  # the network does not change, so one inspection suffices

    # -- public steps -------------------------------------------------------------------------

    def step(self, train: Batch, val: Batch) -> ArchStepResult:
        """One architecture update: set alphas' .grad to the hypergradient, step the optimizer."""
        if self.order == 1:
            grads, result = self.first_order_gradient(val)
        else:
            grads, result = self.second_order_gradient(train, val)
        if self.arch_penalty is not None:
            extra = torch.autograd.grad(
                self.arch_penalty(), list(self.arch().values()), allow_unused=True
            )
            grads = [g if e is None else g + e for g, e in zip(grads, extra, strict=True)]
        self.arch_optimizer.zero_grad(set_to_none=True)
        for name, grad in zip(self.arch_names, grads, strict=True):
            self._parameters[name].grad = grad
        self.arch_optimizer.step()
        return result

    def first_order_gradient(self, val: Batch) -> tuple[list[Tensor], ArchStepResult]:
        """grad_alpha L_val(w, alpha): DARTS with xi = 0."""
        logits, loss = self.loss(self.weights(), self.arch(), val)
        grads = list(torch.autograd.grad(loss, self.arch().values()))
        self.reduce(grads)
        return grads, _result(loss, logits, val[1])

    def second_order_gradient(
        self, train: Batch, val: Batch
    ) -> tuple[list[Tensor], ArchStepResult]:
        weights, arch = self.weights(), self.arch()
        exact = self.hvp == "exact"
        graph_grads, train_grads = self._train_weight_gradient(weights, arch, train, exact)
        unrolled = self.unrolled_weights(weights, train_grads)
        unrolled = {name: w.requires_grad_() for name, w in unrolled.items()}

        logits, val_loss = self.loss(unrolled, arch, val)
        grads = torch.autograd.grad(val_loss, [*unrolled.values(), *arch.values()])
        v, dalpha = list(grads[: len(unrolled)]), list(grads[len(unrolled) :])
        self.reduce([*v, *dalpha])

        if exact:
            hv = self._hvp_from_graph(graph_grads, arch, v)
        else:
            hv = hvp_finite(self, weights, arch, train, v, self.fd_eps)
        self.reduce(hv)
        lr = self.weight_optimizer.param_groups[0]["lr"]
        return [g - lr * h for g, h in zip(dalpha, hv, strict=True)], _result(
            val_loss, logits, val[1]
        )

    # -- pieces, public for tests and benchmarks ----------------------------------------------

    def weights(self) -> Params:
        return {name: self._parameters[name] for name in self.weight_names}

    def arch(self) -> Params:
        return {name: self._parameters[name] for name in self.arch_names}

    def loss(self, weights: Params, arch: Params, batch: Batch) -> tuple[Tensor, Tensor]:
        """Cross-entropy of the model at (weights, arch), leaving the model's buffers untouched."""
        inputs, targets = batch
        scratch = {name: b.clone() for name, b in self.model.named_buffers()}
        logits = functional_call(self.model, {**weights, **arch, **scratch}, (inputs,))
        return logits, F.cross_entropy(logits, targets)

    def unrolled_weights(self, weights: Params, grads: Sequence[Tensor]) -> Params:
        """w' = the weights after one step of the weight optimizer with gradient ``grads``.

        Replays torch.optim.SGD's foreach update (weight decay, momentum buffer, dampening,
        nesterov) op for op, without touching its state, so w' is exactly where the optimizer
        would go. One foreach call per term instead of a Python loop over ~500 tensors.
        """
        group = self.weight_optimizer.param_groups[0]
        lr, wd, momentum = group["lr"], group["weight_decay"], group["momentum"]
        dampening, nesterov = group["dampening"], group["nesterov"]
        values = list(weights.values())
        with torch.no_grad():
            direction = torch._foreach_add(grads, values, alpha=wd) if wd else list(grads)
            if momentum:
                state = self.weight_optimizer.state
                old = [
                    state.get(self._parameters[name], {}).get("momentum_buffer") for name in weights
                ]
                if any(b is None for b in old):  # before SGD's first step: a buffer starts as d
                    bufs = [
                        d if b is None else b.mul(momentum).add_(d, alpha=1 - dampening)
                        for d, b in zip(direction, old, strict=True)
                    ]
                else:
                    bufs = torch._foreach_mul(old, momentum)
                    torch._foreach_add_(bufs, direction, alpha=1 - dampening)
                if nesterov:
                    direction = torch._foreach_add(direction, bufs, alpha=momentum)
                else:
                    direction = bufs
            unrolled = torch._foreach_add(values, direction, alpha=-lr)
        return dict(zip(weights, unrolled, strict=True))

    def _train_weight_gradient(
        self, weights: Params, arch: Params, train: Batch, keep_graph: bool
    ) -> tuple[list[Tensor], list[Tensor]]:
        """(local gradient with its graph if ``keep_graph``, global gradient values)."""
        _, loss = self.loss(weights, arch, train)
        try:
            grads = list(torch.autograd.grad(loss, weights.values(), create_graph=keep_graph))
        except RuntimeError as err:
            raise _double_backward_error(err) from err
        # w' needs the global gradient; the graph stays local because H v is linear in the loss
        # and is reduced after the second backward. Without a graph the gradients are already
        # fresh tensors that nothing else holds, so they are reduced in place, uncopied.
        values = [g.detach().clone() for g in grads] if keep_graph else grads
        self.reduce(values)
        return (grads if keep_graph else []), values

    def _hvp_from_graph(
        self, train_grads: Sequence[Tensor], arch: Params, v: Sequence[Tensor]
    ) -> list[Tensor]:
        if not self._graph_checked:
            _refuse_cut_graphs(train_grads)
            self._graph_checked = True
        try:
            hv = torch.autograd.grad(
                list(train_grads), list(arch.values()), grad_outputs=list(v), allow_unused=True
            )
        except RuntimeError as err:
            raise _double_backward_error(err) from err
        if any(h is None for h in hv):
            raise SearchError(
                "hvp='exact': the weight gradient does not depend on some alphas through a "
                "differentiable path (an op's backward is not itself differentiable); "
                "use hvp='finite'"
            )
        return list(hv)


def hvp_exact(
    architect: Architect, weights: Params, arch: Params, batch: Batch, v: Sequence[Tensor]
) -> list[Tensor]:
    """grad^2_{alpha,w} L(w, alpha) . v by double backward (local batch, not reduced)."""
    _, loss = architect.loss(weights, arch, batch)
    try:
        grads = torch.autograd.grad(loss, list(weights.values()), create_graph=True)
    except RuntimeError as err:
        raise _double_backward_error(err) from err
    return architect._hvp_from_graph(grads, arch, v)


def hvp_finite(
    architect: Architect,
    weights: Params,
    arch: Params,
    batch: Batch,
    v: Sequence[Tensor],
    fd_eps: float = 0.01,
) -> list[Tensor]:
    """Central difference of grad_alpha L along v, with DARTS' step eps = fd_eps / ||v||."""
    values = list(weights.values())
    with torch.no_grad():
        norm = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(list(v))))
    eps = fd_eps / norm.item()

    def arch_grad(sign: float) -> tuple[Tensor, ...]:
        with torch.no_grad():
            moved = torch._foreach_add(values, list(v), alpha=sign * eps)
        _, loss = architect.loss(dict(zip(weights, moved, strict=True)), arch, batch)
        return torch.autograd.grad(loss, list(arch.values()))

    plus, minus = arch_grad(1.0), arch_grad(-1.0)
    return torch._foreach_div(torch._foreach_sub(plus, minus), 2 * eps)


def _refuse_cut_graphs(grads: Sequence[Tensor]) -> None:
    """Raise if the double-backward graph passes through a once-differentiable backward.

    ``@once_differentiable`` functions hang their outputs on an error node that is disconnected
    from their inputs, so autograd.grad with respect to the alphas would not raise: it would drop
    those terms of H v without a word. Walking the graph finds them.
    """
    seen: set[int] = set()
    stack = [g.grad_fn for g in grads if g.grad_fn is not None]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if type(node).__name__ in ("Error", "DelayedError"):
            raise SearchError(
                "hvp='exact' needs double backward through every op, but the network has an op "
                "whose backward is once-differentiable (@once_differentiable). Use hvp='finite' "
                "(the finite-difference product); sedsl never falls back on its own"
            )
        stack.extend(fn for fn, _ in node.next_functions if fn is not None)


def _result(loss: Tensor, logits: Tensor, targets: Tensor) -> ArchStepResult:
    correct = int((logits.detach().argmax(1) == targets).sum())
    return ArchStepResult(float(loss.detach()), correct, int(targets.numel()))


def _double_backward_error(err: RuntimeError) -> SearchError:
    return SearchError(
        f"hvp='exact' needs double backward through every op, and one refused: {err}. "
        "Use hvp='finite' (the finite-difference product); sedsl never falls back on its own"
    )
