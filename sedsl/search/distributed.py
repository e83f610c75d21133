"""Data parallelism for search: gloo on CPU (nccl on CUDA), under torchrun or spawned here.

sedsl does not wrap the network in DistributedDataParallel: the architect evaluates the network
through ``torch.func.functional_call`` at points other than its parameters (w', w +- eps v), which
DDP's backward hooks do not see. Instead every rank keeps identical weights and alphas by averaging
each gradient-like quantity (weight gradients, v, the alpha gradient, H v) with one flattened
all-reduce before it is used, and every rank takes its shard of the same global batch.

Batch norm couples the samples of a batch, so with plain per-rank BN a run would depend on the
number of processes. ``GlobalBatchNorm2d`` computes the batch statistics over all ranks with a
differentiable all-reduce (torch's SyncBatchNorm refuses CPU tensors), which makes an N-process run
equal, to rounding, to one process with the same global batch.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn


@dataclass(frozen=True)
class DistContext:
    rank: int = 0
    world: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1

    def all_reduce_mean(self, tensors: Sequence[Tensor]) -> None:
        """Average tensors over ranks in place, as one flat message."""
        if not self.active or not tensors:
            return
        flat = torch.cat([t.reshape(-1) for t in tensors])
        dist.all_reduce(flat)
        flat /= self.world
        offset = 0
        for tensor in tensors:
            tensor.copy_(flat[offset : offset + tensor.numel()].view_as(tensor))
            offset += tensor.numel()

    def broadcast_(self, tensors: Sequence[Tensor]) -> None:
        if self.active:
            with torch.no_grad():  # an in-place write, not part of any graph
                for tensor in tensors:
                    dist.broadcast(tensor, src=0)

    def require_identical(self, tensors: Sequence[Tensor], what: str) -> None:
        """Fail loudly if ranks drifted apart (a cheap max/min all-reduce of one flat copy)."""
        if not self.active:
            return
        flat = torch.cat([t.detach().reshape(-1).float() for t in tensors])
        high, low = flat.clone(), flat.clone()
        dist.all_reduce(high, op=dist.ReduceOp.MAX)
        dist.all_reduce(low, op=dist.ReduceOp.MIN)
        if not torch.equal(high, low):
            raise RuntimeError(f"data-parallel ranks hold different {what}")

    def barrier(self) -> None:
        if self.active:
            dist.barrier()


def context_from_env() -> DistContext:
    """Join the process group that torchrun (or ``spawn``) describes in the environment."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistContext()
    if not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() and os.environ.get("LOCAL_RANK") else "gloo"
        dist.init_process_group(backend)
    return DistContext(dist.get_rank(), dist.get_world_size())


def shutdown(context: DistContext) -> None:
    if context.active and dist.is_initialized():
        dist.destroy_process_group()


def spawn(nproc: int, fn: Callable[..., Any], *args: Any) -> None:
    """Run ``fn(*args)`` in ``nproc`` fresh processes joined by a gloo process group."""
    port = _free_port()
    torch.multiprocessing.spawn(_entry, args=(nproc, port, fn, args), nprocs=nproc, join=True)


def _entry(rank: int, world: int, port: int, fn: Callable[..., Any], args: tuple) -> None:
    # Share the cores instead of oversubscribing them: collectives wait for the slowest rank.
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // world))
    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        RANK=str(rank),
        LOCAL_RANK=str(rank),
        WORLD_SIZE=str(world),
    )
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        fn(*args)
        # No rank tears gloo down while another still has a collective in flight: a rank that
        # did can abort its peer ("terminate called without an active exception", SIGABRT).
        # Only after success: after an error a peer may never reach the barrier.
        dist.barrier()
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _AllReduceSum(torch.autograd.Function):
    """Differentiable all-reduce: the gradient of a sum over ranks is the sum of the gradients.

    Its backward is itself an ``_AllReduceSum``, so double backward (exact H v) works too.
    """

    @staticmethod
    def forward(ctx: Any, tensor: Tensor) -> Tensor:
        out = tensor.clone()
        dist.all_reduce(out)
        return out

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tensor:
        return _AllReduceSum.apply(grad.contiguous())


def all_reduce_sum(tensor: Tensor) -> Tensor:
    return _AllReduceSum.apply(tensor)


class GlobalBatchNorm2d(nn.BatchNorm2d):
    """BatchNorm2d whose training statistics cover the global batch of all ranks."""

    def forward(self, x: Tensor) -> Tensor:
        if not (self.training and dist.is_available() and dist.is_initialized()):
            return super().forward(x)
        world = dist.get_world_size()
        count = x.numel() // x.shape[1] * world
        # Two passes (mean, then centred squares) round like BatchNorm's own two-pass statistics.
        mean = all_reduce_sum(x.sum((0, 2, 3))) / count
        centred = x - mean.view(1, -1, 1, 1)
        var = all_reduce_sum(centred.square().sum((0, 2, 3))) / count
        if self.track_running_stats and self.running_mean is not None:
            self._update_running_stats(mean.detach(), var.detach() * count / max(count - 1, 1))
        out = centred * torch.rsqrt(var + self.eps).view(1, -1, 1, 1)
        if self.affine:
            out = out * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)
        return out

    def _update_running_stats(self, mean: Tensor, unbiased_var: Tensor) -> None:
        with torch.no_grad():
            self.num_batches_tracked.add_(1)
            momentum = (
                1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
            )
            self.running_mean.lerp_(mean, momentum)
            self.running_var.lerp_(unbiased_var, momentum)


def use_global_batchnorm(module: nn.Module) -> nn.Module:
    """Swap every BatchNorm2d for GlobalBatchNorm2d in place, keeping parameters and buffers."""
    for name, child in module.named_children():
        if type(child) is nn.BatchNorm2d:
            replacement = GlobalBatchNorm2d(
                child.num_features,
                child.eps,
                child.momentum,
                child.affine,
                child.track_running_stats,
            )
            replacement.load_state_dict(child.state_dict())
            reference = next(iter([*child.parameters(), *child.buffers()]), None)
            if reference is not None:
                replacement.to(reference.device)
            replacement.train(child.training)
            setattr(module, name, replacement)
        else:
            use_global_batchnorm(child)
    return module
