"""AnimeInterp network forward pass: seconds per triplet at 960x540 (SGM not included).

    python benchmark/speed/animeinterp_forward.py [--checkpoint anime_interp_full.ckpt] [--threads N] [--runs 3]

On the CPU: fp32, ``--threads`` intra-op threads (default: all cores). With a CUDA GPU, also
triplets/s in fp32 and fp16 (autocast) at ``--batch`` triplets per call, and peak GPU memory.
Without ``--checkpoint`` the weights are random (the speed is the same). Each setting runs once
to warm up, then ``--runs`` times; the median (and on the CPU the best) is printed. The machine's load average is printed
too: on a shared machine the numbers are only as good as it is idle.
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmark.methods.animeinterp import AnimeInterp  # noqa: E402

WIDTH, HEIGHT = 960, 540


def timed(run, runs: int, synchronise=lambda: None) -> tuple[float, float]:
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


def inputs(batch: int, device: torch.device):
    generator = torch.Generator().manual_seed(0)
    frame0, frame1 = (torch.rand(batch, 3, HEIGHT, WIDTH, generator=generator).to(device) for _ in range(2))
    flow = torch.nn.functional.interpolate(torch.randn(batch, 2, 6, 8, generator=generator) * 10, size=(HEIGHT, WIDTH), mode="bilinear")
    return frame0, frame1, flow.to(device), (-flow).to(device)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--batch", type=int, default=4, help="triplets per call on the GPU")
    parser.add_argument("--no-cpu", action="store_true", help="skip the CPU measurement")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = AnimeInterp.from_checkpoint(args.checkpoint) if args.checkpoint else AnimeInterp().eval()
    print(f"AnimeInterp forward at {WIDTH}x{HEIGHT}, weights: {args.checkpoint or 'random'}; "
          f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    if not args.no_cpu:
        frame0, frame1, flow01, flow10 = inputs(1, torch.device("cpu"))
        with torch.inference_mode():
            median, best = timed(lambda: model(frame0, frame1, flow01, flow10), args.runs)
        print(f"cpu fp32, {args.threads} threads: {median:.2f} s per triplet (median of {args.runs}; best {best:.2f} s); "
              f"peak resident memory {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.1f} GiB; "
              f"load average now {os.getloadavg()[0]:.2f}")
    if torch.cuda.is_available():
        device = torch.device("cuda")
        model = model.to(device)
        frame0, frame1, flow01, flow10 = inputs(args.batch, device)
        for precision in ("fp32", "fp16"):
            torch.cuda.reset_peak_memory_stats(device)
            with torch.inference_mode(), torch.autocast("cuda", dtype=torch.float16, enabled=precision == "fp16"):
                seconds, _ = timed(lambda: model(frame0, frame1, flow01, flow10), args.runs, torch.cuda.synchronize)
            peak = torch.cuda.max_memory_allocated(device) / 2**30
            print(f"{torch.cuda.get_device_name(device)} {precision}, batch {args.batch}: "
                  f"{args.batch / seconds:.1f} triplets/s, peak memory {peak:.1f} GiB")


if __name__ == "__main__":
    main()
