"""DistributedDataParallel plumbing for :func:`facsnet.training.train` under ``torchrun``."""
from __future__ import annotations

import os

import torch


def dist_info() -> tuple[int, int]:
    """(rank, world size): (0, 1) outside a process group."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


def init_distributed(device: torch.device) -> bool:
    """Join the process group that ``torchrun`` describes in the environment, if any."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return False
    if not torch.distributed.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        torch.distributed.init_process_group(backend=backend)
    return True


def gather_states(gen: torch.Generator, world: int) -> list[torch.Tensor]:
    """Every rank's augmentation RNG state (collective: all ranks must call it)."""
    state = gen.get_state()
    if world == 1:
        return [state]
    states = [None] * world
    torch.distributed.all_gather_object(states, state)
    return states
