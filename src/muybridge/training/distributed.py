"""Data-parallel training with torch.distributed: ``torchrun --nproc-per-node N -m muybridge train ...``.

Gloo on CPU, NCCL on CUDA. Gradients are averaged across ranks after each backward pass by an explicit
all-reduce (as StyleGAN2/3 do): DistributedDataParallel's reducer does not support the double backward
of the R1 penalty, and a GAN's alternating G/D steps would make it synchronise the wrong network.
Only rank 0 writes files.

Every rank takes part in every collective, in the same order (StyleGAN3's rule): whatever one rank alone can
see (a non-finite loss, a stop request, its own clock) is agreed with :func:`any_rank` before anyone acts on it,
and what only rank 0 computes (the held-out score) reaches the others by :func:`broadcast_float`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist
from torch import nn

#: How long a rank waits for the others at a collective before it ends with an error. It must cover the
#: longest stretch one rank works alone: rank 0's held-out evaluation (a 1,000-image score at 128 px takes
#: about 5 minutes on one CPU thread). A rank that dies is noticed sooner, by torchrun, which then ends the rest.
COLLECTIVE_TIMEOUT = timedelta(minutes=30)


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_world() -> World:
    """Join the process group when launched by torchrun (``WORLD_SIZE`` > 1); a single process otherwise."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    use_cuda = torch.cuda.is_available()
    if size <= 1:
        return World(device=torch.device("cuda" if use_cuda else "cpu"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if use_cuda else "gloo", timeout=COLLECTIVE_TIMEOUT)
    device = torch.device("cuda", local_rank) if use_cuda else torch.device("cpu")
    if use_cuda:
        torch.cuda.set_device(device)
    return World(rank=dist.get_rank(), size=dist.get_world_size(), device=device)


def average_gradients(module: nn.Module, world: World) -> None:
    if world.size <= 1:
        return
    grads = [p.grad for p in module.parameters() if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= world.size
    offset = 0
    for grad in grads:
        grad.copy_(flat[offset : offset + grad.numel()].view_as(grad))
        offset += grad.numel()


def broadcast_module(module: nn.Module, world: World) -> None:
    """Make every rank start from rank 0's parameters and buffers."""
    if world.size <= 1:
        return
    for tensor in list(module.parameters()) + list(module.buffers()):
        dist.broadcast(tensor.data, src=0)


def gather_tensors(tensor: torch.Tensor, world: World) -> list[torch.Tensor]:
    """Every rank's copy of a same-shaped tensor (e.g. RNG states), in rank order."""
    if world.size <= 1:
        return [tensor]
    gathered = [torch.empty_like(tensor) for _ in range(world.size)]
    dist.all_gather(gathered, tensor)
    return gathered


def barrier(world: World) -> None:
    if world.size > 1:
        dist.barrier()


def any_rank(world: World, *flags: bool) -> list[bool]:
    """Each flag, true when it is true on any rank (one collective for all of them)."""
    if world.size <= 1:
        return list(flags)
    votes = torch.tensor([float(flag) for flag in flags], device=world.device)
    dist.all_reduce(votes, op=dist.ReduceOp.MAX)
    return [bool(vote) for vote in votes.tolist()]


def all_ranks_sum(tensor: torch.Tensor, world: World) -> torch.Tensor:
    """``tensor`` summed over the ranks (a copy; ``tensor`` itself is left alone)."""
    total = tensor.detach().clone()
    if world.size > 1:
        dist.all_reduce(total, op=dist.ReduceOp.SUM)
    return total


def broadcast_float(value: float, world: World) -> float:
    """Rank 0's ``value`` on every rank."""
    if world.size <= 1:
        return value
    tensor = torch.tensor([value], dtype=torch.float64, device=world.device)
    dist.broadcast(tensor, src=0)
    return float(tensor.item())
