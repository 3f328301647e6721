"""What the forward-pass speed scripts share: random frames, timing after a warm-up, GPU rates.

Each setting runs once to warm up, then ``runs`` times; the median (and on the CPU the best)
is reported. The machine's load average is printed beside: on a shared machine the numbers are
only as good as it is idle.
"""
from __future__ import annotations

import os
import statistics
import time
from typing import Callable

import torch

WIDTH, HEIGHT = 960, 540


def random_frames(batch: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Two batches of random RGB frames (batch, 3, 540, 960) in [0, 1], the same every call."""
    generator = torch.Generator().manual_seed(0)
    return tuple(torch.rand(batch, 3, HEIGHT, WIDTH, generator=generator).to(device) for _ in range(2))


def timed(run: Callable[[], object], runs: int, synchronise: Callable[[], None] = lambda: None) -> tuple[float, float]:
    """Median and best seconds of ``runs`` runs after a warm-up."""
    run()
    synchronise()
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        run()
        synchronise()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds), min(seconds)


def load_average() -> str:
    return f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores"


def print_gpu_rates(label: str, run: Callable[[], object], batch: int, runs: int) -> None:
    """Triplets/s of ``run`` (``batch`` triplets per call, already on the GPU) in fp32 and fp16 autocast, with peak memory."""
    device = torch.device("cuda")
    for precision in ("fp32", "fp16"):
        torch.cuda.reset_peak_memory_stats(device)
        with torch.inference_mode(), torch.autocast("cuda", dtype=torch.float16, enabled=precision == "fp16"):
            seconds, _ = timed(run, runs, torch.cuda.synchronize)
        peak = torch.cuda.max_memory_allocated(device) / 2**30
        print(f"{label}{torch.cuda.get_device_name(device)} {precision}, batch {batch}: "
              f"{batch / seconds:.1f} triplets/s, peak memory {peak:.1f} GiB")
