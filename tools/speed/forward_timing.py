"""What the forward-pass speed scripts share: random frames, timing after a warm-up, GPU rates,
and the arithmetic a forward pass needs set against what this machine's convolutions reach.

Each setting runs once to warm up, then ``runs`` times; the median (and on the CPU the best)
is reported. The machine's load average is printed beside: on a shared machine the numbers are
only as good as it is idle.

Seconds depend on the machine; the share of the machine's own convolution rate does much less.
:func:`compute_report` counts a pass's floating-point operations (PyTorch's FLOP counter:
convolutions and matrix products) and divides them by the seconds and by the rate of one large
3x3 convolution measured in the same run: about the floor for that arithmetic on this machine
(the reference reaches most, not all, of the cores' peak).
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable

import torch
from torch.utils.flop_counter import FlopCounterMode, mm_flop

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
    """Triplets/s of ``run`` (``batch`` triplets per call, already on the GPU) in fp32 and fp16
    autocast, with peak memory."""
    device = torch.device("cuda")
    for precision in ("fp32", "fp16"):
        torch.cuda.reset_peak_memory_stats(device)
        with torch.inference_mode(), torch.autocast("cuda", dtype=torch.float16, enabled=precision == "fp16"):
            seconds, _ = timed(run, runs, torch.cuda.synchronize)
        peak = torch.cuda.max_memory_allocated(device) / 2**30
        print(
            f"{label}{torch.cuda.get_device_name(device)} {precision}, batch {batch}: "
            f"{batch / seconds:.1f} triplets/s, peak memory {peak:.1f} GiB"
        )


def matrix_product_flop(first: torch.Tensor, second: torch.Tensor, *args, out_val=None, **kwargs) -> int:
    """PyTorch's count for ``mm``, but for a sparse first factor (splatting's) its multiply-adds: 2 nnz n."""
    if first.layout != torch.strided:
        return 2 * first._nnz() * second.shape[-1]
    return mm_flop(first.shape, second.shape)


matrix_product_flop._get_raw = True  # FlopCounterMode passes the tensors, not only their shapes


def gigaflop(run: Callable[[], object]) -> float:
    """Floating-point operations of one call of ``run`` in GFLOP (convolutions and matrix products)."""
    mapping = {torch.ops.aten.mm: matrix_product_flop}
    with torch.inference_mode(), FlopCounterMode(display=False, custom_mapping=mapping) as counter:
        run()
    return counter.get_total_flops() / 1e9


def reference_conv_rate(runs: int = 3) -> float:
    """GFLOPS of one large CPU convolution (3x3, 128 -> 128 channels, 2 x 270 x 480, channels-last,
    best of ``runs``): about what this machine's convolutions can reach with the current threads."""
    conv = torch.nn.Conv2d(128, 128, 3, padding=1).to(memory_format=torch.channels_last)
    x = torch.rand(2, 128, 270, 480).contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        _, best = timed(lambda: conv(x), runs)
    return gigaflop(lambda: conv(x)) / best


def compute_report(gflop: float, seconds: float, reference: float) -> str:
    """``gflop`` done in ``seconds``, against the ``reference`` convolution rate (GFLOPS)."""
    return (
        f"{gflop:.0f} GFLOP: {gflop / seconds:.0f} GFLOPS = {gflop / seconds / reference:.0%} of this machine's "
        f"reference convolution ({reference:.0f} GFLOPS), where the same arithmetic takes {gflop / reference:.2f} s"
    )
