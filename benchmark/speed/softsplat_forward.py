"""SoftSplat forward pass (PWC-Net both ways, splatting, GridNet): seconds per triplet at 960x540, with peak memory.

    python benchmark/speed/softsplat_forward.py [--threads N] [--runs 3] [--batch 4] [--no-cpu]

Random weights (the speed is the same as trained ones'); at 960x540 the harness pads nothing
(a multiple of 4) and PWC-Net runs at 960x576 inside. On the CPU: fp32, ``--threads`` intra-op
threads (default: all cores), and the process's peak resident memory. With a CUDA GPU, also
triplets/s in fp32 and fp16 (autocast) at ``--batch`` triplets per call, and peak GPU memory.
Each setting runs once to warm up, then ``--runs`` times; the median (and on the CPU the best)
is printed, with the machine's load average: on a shared machine the numbers are only as good
as it is idle.
"""
from __future__ import annotations

import argparse
import os
import resource
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmark.methods.softsplat import SoftSplat  # noqa: E402
from benchmark.speed.animeinterp_forward import timed  # noqa: E402

WIDTH, HEIGHT = 960, 540


def frames(batch: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    return tuple(torch.rand(batch, 3, HEIGHT, WIDTH, generator=generator).to(device) for _ in range(2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--batch", type=int, default=4, help="triplets per call on the GPU")
    parser.add_argument("--no-cpu", action="store_true", help="skip the CPU measurement")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    network = SoftSplat().eval()
    print(f"SoftSplat forward at {WIDTH}x{HEIGHT}, random weights; load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    if not args.no_cpu:
        frame1, frame3 = frames(1, torch.device("cpu"))
        with torch.inference_mode():
            median, best = timed(lambda: network(frame1, frame3), args.runs)
        print(f"cpu fp32, {args.threads} threads: {median:.2f} s per triplet (median of {args.runs}; best {best:.2f} s); "
              f"peak resident memory {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB; "
              f"load average now {os.getloadavg()[0]:.2f}")
    if torch.cuda.is_available():
        device = torch.device("cuda")
        network = network.to(device)
        frame1, frame3 = frames(args.batch, device)
        for precision in ("fp32", "fp16"):
            torch.cuda.reset_peak_memory_stats(device)
            with torch.inference_mode(), torch.autocast("cuda", dtype=torch.float16, enabled=precision == "fp16"):
                seconds, _ = timed(lambda: network(frame1, frame3), args.runs, torch.cuda.synchronize)
            peak = torch.cuda.max_memory_allocated(device) / 2**30
            print(f"{torch.cuda.get_device_name(device)} {precision}, batch {args.batch}: "
                  f"{args.batch / seconds:.1f} triplets/s, peak memory {peak:.1f} GiB")


if __name__ == "__main__":
    main()
