"""The interpolation networks' forward passes: seconds per triplet at 960x540, with peak memory.

    python tools/speed/baselines_forward.py [--methods NAME ...] [--threads N] [--runs 3]

Each method runs as ``atdkit bench`` runs it, with random weights (the speed is the same): frames
fitted by the method's rule (padded or resized to its multiple, or, for DAIN, EMA-VFI and GMFSS,
padded or resized inside the method as its authors' scripts do), the network, the output brought
back to 960x540. ``--methods`` defaults to every one below; AnimeInterp has its own script
(``animeinterp_forward.py``). On the CPU: fp32, ``--threads`` intra-op threads (default: all cores),
each method in a fresh process so that its peak resident memory is its own. With a CUDA GPU, also
triplets/s in fp32 and fp16 (autocast) at ``--batch`` triplets per call, and peak GPU memory. Timing
as in ``forward_timing``: a warm-up, then the median (and on the CPU the best) of ``--runs``.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
from concurrent.futures import ProcessPoolExecutor

import torch
from forward_timing import (
    HEIGHT,
    WIDTH,
    compute_report,
    gigaflop,
    load_average,
    print_gpu_rates,
    random_frames,
    reference_conv_rate,
    timed,
)

from atdkit.benchmark.harness import fit_inputs
from atdkit.benchmark.methods import get


def fitted(network: torch.nn.Module, name: str):
    """``run(frame1, frame3)``: the frames fitted by the method's rule, the network, the output restored."""

    def run(frame1: torch.Tensor, frame3: torch.Tensor) -> torch.Tensor:
        (frame1, frame3), restore = fit_inputs(get(name).fit, [frame1, frame3], [False, False])
        return restore(network(frame1, frame3))

    return run


def softsplat(device):
    from atdkit.benchmark.methods.softsplat import SoftSplat

    return fitted(SoftSplat().to(device).eval(), "softsplat")


def superslomo(device):
    from atdkit.benchmark.methods.superslomo import SuperSloMo

    return fitted(SuperSloMo().to(device).eval(), "superslomo")


def rife(device):
    from atdkit.benchmark.methods.rife import IFNet

    return fitted(IFNet().to(device).eval(), "rife-4.6")


def adacof(device):
    from atdkit.benchmark.methods.adacof.model import AdaCoFNet

    return fitted(AdaCoFNet().to(device).eval(), "adacof")


def dain(device):
    from atdkit.benchmark.methods.dain.method import interpolate
    from atdkit.benchmark.methods.dain.model import DAIN

    network = DAIN().to(device).eval()
    return lambda frame1, frame3: interpolate(network, frame1, frame3)


def ema_vfi(device, small: bool = False):
    from atdkit.benchmark.methods.ema_vfi.method import interpolator
    from atdkit.benchmark.methods.ema_vfi.model import EMAVFI, OURS_SMALL_T, OURS_T

    run = interpolator(EMAVFI(OURS_SMALL_T if small else OURS_T).to(device).eval(), augment=not small)
    return lambda frame1, frame3: run(frame1, frame3, None)


def gmfss(device):
    from atdkit.benchmark.methods.gmfss import GMFSS
    from atdkit.benchmark.methods.gmfss.method import interpolator

    run = interpolator(GMFSS().to(device).eval())
    return lambda frame1, frame3: run(frame1, frame3, None)


def qvi(device):
    from atdkit.benchmark.methods.qvi import QVI

    network = QVI().to(device).eval()
    return lambda frame1, frame3: network(frame1, frame3, neighbours=(frame1, frame3))  # replicated neighbours


NETWORKS = {  # method -> its run(frame1, frame3) on a device, random weights
    "softsplat": softsplat,
    "superslomo": superslomo,
    "rife": rife,
    "adacof": adacof,
    "dain": dain,
    "qvi": qvi,
    "ema-vfi": ema_vfi,
    "ema-vfi-small": lambda device: ema_vfi(device, small=True),
    "gmfss": gmfss,
}


def interpolator(name: str, device: torch.device):
    """``run(frame1, frame3)`` as the harness runs the method."""
    return NETWORKS[name](device)


def cpu_run(name: str, threads: int, runs: int) -> tuple[float, float, float, str]:
    """Median and best seconds per triplet, this process's peak resident memory (GiB) and the compute report."""
    torch.set_num_threads(threads)
    run, (frame1, frame3) = interpolator(name, torch.device("cpu")), random_frames(1, torch.device("cpu"))
    with torch.inference_mode():
        median, best = timed(lambda: run(frame1, frame3), runs)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    return median, best, peak, compute_report(gigaflop(lambda: run(frame1, frame3)), best, reference_conv_rate())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", nargs="+", choices=list(NETWORKS), default=list(NETWORKS))
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--batch", type=int, default=4, help="triplets per call on the GPU")
    parser.add_argument("--no-cpu", action="store_true", help="skip the CPU measurement")
    args = parser.parse_args()
    print(f"forward passes at {WIDTH}x{HEIGHT}, random weights; {load_average()}")
    for name in args.methods:
        if not args.no_cpu:
            with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
                median, best, peak, report = pool.submit(cpu_run, name, args.threads, args.runs).result()
            print(
                f"{name}: cpu fp32, {args.threads} threads: {median:.2f} s per triplet "
                f"(median of {args.runs}; best {best:.2f} s); "
                f"peak resident memory {peak:.2f} GiB; load average now {os.getloadavg()[0]:.2f}"
            )
            print(f"  per triplet {report}")
        if torch.cuda.is_available():
            run, (frame1, frame3) = (
                interpolator(name, torch.device("cuda")),
                random_frames(args.batch, torch.device("cuda")),
            )
            print_gpu_rates(f"{name}: ", lambda: run(frame1, frame3), args.batch, args.runs)  # noqa: B023


if __name__ == "__main__":
    main()
