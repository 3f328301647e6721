"""AnimeInterp network forward pass: seconds per triplet at 960x540 (SGM not included).

    python tools/speed/animeinterp_forward.py [--checkpoint anime_interp_full.ckpt] [--threads N] [--runs 3]

On the CPU: fp32, ``--threads`` intra-op threads (default: all cores). With a CUDA GPU, also
triplets/s in fp32 and fp16 (autocast) at ``--batch`` triplets per call, and peak GPU memory.
Without ``--checkpoint`` the weights are random (the speed is the same). Timing as in
``forward_timing``: a warm-up, then the median (and on the CPU the best) of ``--runs``.
"""

from __future__ import annotations

import argparse
import os
import resource
from pathlib import Path

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

from atdkit.benchmark.methods.animeinterp import AnimeInterp


def inputs(batch: int, device: torch.device):
    """Random frames and a smooth random flow (and its negative) as the SGM flows."""
    generator = torch.Generator().manual_seed(1)
    flow = torch.nn.functional.interpolate(
        torch.randn(batch, 2, 6, 8, generator=generator) * 10, size=(HEIGHT, WIDTH), mode="bilinear"
    )
    return *random_frames(batch, device), flow.to(device), (-flow).to(device)


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
    print(f"AnimeInterp forward at {WIDTH}x{HEIGHT}, weights: {args.checkpoint or 'random'}; {load_average()}")
    if not args.no_cpu:
        frame0, frame1, flow01, flow10 = inputs(1, torch.device("cpu"))
        forward = lambda: model(frame0, frame1, flow01, flow10)  # noqa: E731
        with torch.inference_mode():
            median, best = timed(forward, args.runs)
        print(
            f"cpu fp32, {args.threads} threads: {median:.2f} s per triplet (median of {args.runs}; best {best:.2f} s); "
            f"peak resident memory {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.1f} GiB; "
            f"load average now {os.getloadavg()[0]:.2f}"
        )
        print(f"  per triplet {compute_report(gigaflop(forward), best, reference_conv_rate())}")
    if torch.cuda.is_available():
        model = model.to("cuda")
        frame0, frame1, flow01, flow10 = inputs(args.batch, torch.device("cuda"))
        print_gpu_rates("", lambda: model(frame0, frame1, flow01, flow10), args.batch, args.runs)


if __name__ == "__main__":
    main()
