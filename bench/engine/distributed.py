"""Multi-process / multi-node runs under ``torchrun``: each rank extracts a share of the feature
chunks into the shared cache; every rank then reads the whole, identical result.

Launch any ``zsbench run`` under torchrun (gloo on CPU, nccl on GPU); with one process this is
all a no-op. The cache folder must be shared between nodes (a network filesystem) for multi-node.
torch is imported only under torchrun (a process group cannot exist before torch is imported, so a
single process never needs it here).
"""
from __future__ import annotations

import os
import sys
from datetime import timedelta


def world() -> tuple[int, int]:
    """(rank, world size); (0, 1) when not distributed."""
    if "torch.distributed" not in sys.modules:  # no process group without torch.distributed imported
        return 0, 1
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def init_from_env(device: str = "cpu") -> str:
    """Join the process group torchrun describes in the environment; returns this rank's device."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size <= 1:
        return device
    import torch
    import torch.distributed as dist

    if not dist.is_available():
        return device
    if not dist.is_initialized():
        backend = "nccl" if device.startswith("cuda") and torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend=backend, timeout=timedelta(hours=2))
    if device.startswith("cuda") and torch.cuda.is_available():
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        return f"cuda:{local}"
    return device


def barrier() -> None:
    if world()[1] > 1:
        import torch.distributed as dist

        dist.barrier()


def is_main() -> bool:
    return world()[0] == 0
