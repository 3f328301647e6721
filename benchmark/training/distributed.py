"""Several processes through ``torchrun`` (one per GPU): DistributedDataParallel averages the
gradients, each process loads its share of every batch, process 0 writes the run's files.

Launched without torchrun (no ``WORLD_SIZE`` above 1), a run is one process on one device.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from atdkit.benchmark.harness import BenchError, choose_device
from atdkit.benchmark.training.settings import TrainError


@dataclass(frozen=True)
class Ranks:
    rank: int = 0
    world: int = 1
    local: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0


def start(device_name: str) -> tuple[Ranks, torch.device]:
    """This process's rank and device; joins the process group when torchrun started several processes."""
    try:
        device, _ = choose_device(device_name)
    except BenchError as error:
        raise TrainError(str(error)) from None
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return Ranks(), device
    ranks = Ranks(int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", "0")))
    if device.type == "cuda":
        if ranks.local >= torch.cuda.device_count():
            raise TrainError(
                f"torchrun started {world} processes per node but PyTorch sees {torch.cuda.device_count()} GPUs"
            )
        device = torch.device("cuda", ranks.local)
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return ranks, device


def stop() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def barrier(ranks: Ranks) -> None:
    if ranks.world > 1:
        dist.barrier()


def summed(values: torch.Tensor, ranks: Ranks) -> torch.Tensor:
    """``values`` added up over every process (a copy on one process)."""
    if ranks.world == 1:
        return values
    values = values.clone()
    dist.all_reduce(values)
    return values
