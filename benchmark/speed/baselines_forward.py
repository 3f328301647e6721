"""Super SloMo and RIFE 4.6 forward passes: seconds per triplet at 960x540, with peak memory.

    python benchmark/speed/baselines_forward.py [--methods superslomo rife] [--threads N] [--runs 3]

Each method runs as ``atdkit bench`` runs it: frames padded to the method's multiple (960x544),
the network, the output cropped back; random weights (the speed is the same). On the CPU:
fp32, ``--threads`` intra-op threads (default: all cores), each method in a fresh process so
that its peak resident memory is its own. With a CUDA GPU, also triplets/s in fp32 and fp16
(autocast) at ``--batch`` triplets per call, and peak GPU memory. Each setting runs once to
warm up, then ``--runs`` times; the median (and on the CPU the best) is printed, with the
machine's load average: on a shared machine the numbers are only as good as it is idle.
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmark.harness import fit_inputs  # noqa: E402
from benchmark.methods import get  # noqa: E402
from benchmark.methods.rife import IFNet  # noqa: E402
from benchmark.methods.superslomo import SuperSloMo  # noqa: E402
from benchmark.speed.animeinterp_forward import timed  # noqa: E402

WIDTH, HEIGHT = 960, 540
NETWORKS = {"superslomo": SuperSloMo, "rife": IFNet}


def interpolator(name: str, device: torch.device):
    """``run(frame1, frame3)`` as the harness runs the method: fitted, the network, restored."""
    network, fit = NETWORKS[name]().to(device).eval(), get(name).fit

    def run(frame1: torch.Tensor, frame3: torch.Tensor) -> torch.Tensor:
        (frame1, frame3), restore = fit_inputs(fit, [frame1, frame3], [False, False])
        return restore(network(frame1, frame3))

    return run


def frames(batch: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    return tuple(torch.rand(batch, 3, HEIGHT, WIDTH, generator=generator).to(device) for _ in range(2))


def cpu_run(name: str, threads: int, runs: int) -> tuple[float, float, float]:
    """Median and best seconds per triplet, and this process's peak resident memory (GiB)."""
    torch.set_num_threads(threads)
    run, (frame1, frame3) = interpolator(name, torch.device("cpu")), frames(1, torch.device("cpu"))
    with torch.inference_mode():
        median, best = timed(lambda: run(frame1, frame3), runs)
    return median, best, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", nargs="+", choices=list(NETWORKS), default=list(NETWORKS))
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--batch", type=int, default=4, help="triplets per call on the GPU")
    parser.add_argument("--no-cpu", action="store_true", help="skip the CPU measurement")
    args = parser.parse_args()
    print(f"forward passes at {WIDTH}x{HEIGHT}, random weights; load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    for name in args.methods:
        if not args.no_cpu:
            with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
                median, best, peak = pool.submit(cpu_run, name, args.threads, args.runs).result()
            print(f"{name}: cpu fp32, {args.threads} threads: {median:.2f} s per triplet (median of {args.runs}; best {best:.2f} s); "
                  f"peak resident memory {peak:.2f} GiB; load average now {os.getloadavg()[0]:.2f}")
        if torch.cuda.is_available():
            device = torch.device("cuda")
            run, (frame1, frame3) = interpolator(name, device), frames(args.batch, device)
            for precision in ("fp32", "fp16"):
                torch.cuda.reset_peak_memory_stats(device)
                with torch.inference_mode(), torch.autocast("cuda", dtype=torch.float16, enabled=precision == "fp16"):
                    seconds, _ = timed(lambda: run(frame1, frame3), args.runs, torch.cuda.synchronize)
                peak = torch.cuda.max_memory_allocated(device) / 2**30
                print(f"{name}: {torch.cuda.get_device_name(device)} {precision}, batch {args.batch}: "
                      f"{args.batch / seconds:.1f} triplets/s, peak memory {peak:.1f} GiB")


if __name__ == "__main__":
    main()
