"""AnimeInterp network forward pass: seconds per triplet at 960x540 (SGM not included), and peak memory.

    python tools/speed/animeinterp_forward.py [--checkpoint anime_interp_full.ckpt] [--threads N] [--runs 3]
        [--triplet DIR] [--no-bench]

On the CPU: fp32, ``--threads`` intra-op threads (default: all cores), with the peak resident memory
of the process (the network and its forward). With a CUDA GPU, also triplets/s in fp32 and fp16
(autocast) at ``--batch`` triplets per call, and peak GPU memory. Without ``--checkpoint`` the
weights are random (the speed is the same). Timing as in ``forward_timing``: a warm-up, then the
median (and on the CPU the best) of ``--runs``.

Then (unless ``--no-bench``) the peak resident memory of a whole ``atdkit bench --methods animeinterp
--device cpu`` run in a child process: SGM computed from the frames (VGG-19 loaded beside the
network), two triplets at 960x540 (``--triplet``: a real triplet folder resized, default the shared
1080p one; drawn ones when absent), with weight files of seeded random values in the released layouts.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
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

from atdkit.benchmark.layers.imagenet import VGG19, vgg_features
from atdkit.benchmark.methods.animeinterp import AnimeInterp

TRIPLET = Path(__file__).resolve().parents[3] / "shared" / "data" / "triplets" / "ccvfi_dragon_1080p"


def inputs(batch: int, device: torch.device):
    """Random frames and a smooth random flow (and its negative) as the SGM flows."""
    generator = torch.Generator().manual_seed(1)
    flow = torch.nn.functional.interpolate(
        torch.randn(batch, 2, 6, 8, generator=generator) * 10, size=(HEIGHT, WIDTH), mode="bilinear"
    )
    return *random_frames(batch, device), flow.to(device), (-flow).to(device)


def bench_peak(triplet: Path | None, threads: int) -> str:
    """Peak resident memory of ``atdkit bench --methods animeinterp`` on two 960x540 triplets, run in a child
    process with seeded random weight files (the network's checkpoint and torchvision's VGG-19)."""
    from bench_overhead import write_layout

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        write_layout(root / "data", 2, triplet)
        torch.manual_seed(0)
        torch.save({"model_state_dict": AnimeInterp().state_dict()}, root / "anime_interp_full.ckpt")
        vgg = {f"features.{key}": value for key, value in vgg_features(VGG19).state_dict().items()}
        torch.save(vgg, root / "vgg19-dcbb9e9d.pth")
        del vgg
        command = [sys.executable, "-m", "atdkit", "bench", "--data", str(root / "data"), "--out", str(root / "out")]
        command += ["--methods", "animeinterp", "--device", "cpu", "--weights"]
        command += [f"animeinterp={root / 'anime_interp_full.ckpt'}", f"vgg19={root / 'vgg19-dcbb9e9d.pth'}"]
        environment = dict(os.environ, OMP_NUM_THREADS=str(threads), ATDKIT_CACHE=str(root / "cache"))
        run = subprocess.run(command, env=environment, capture_output=True, text=True)
        if run.returncode:
            sys.exit(f"the bench run failed:\n{run.stderr}")
    # the largest resident set of any child waited for: the bench run is the only one
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20
    frames = f"real: {triplet}" if triplet else "drawn"
    return (
        f"whole bench run (SGM with VGG-19, and the network; 2 triplets, {frames}): peak resident memory {peak:.2f} GiB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--batch", type=int, default=4, help="triplets per call on the GPU")
    parser.add_argument("--no-cpu", action="store_true", help="skip the CPU measurement")
    parser.add_argument("--triplet", type=Path, default=TRIPLET, help="real triplet folder for the bench run")
    parser.add_argument("--no-bench", action="store_true", help="skip the whole bench run's peak memory")
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
    if not args.no_bench:
        print(bench_peak(args.triplet if args.triplet.is_dir() else None, args.threads))
    if torch.cuda.is_available():
        model = model.to("cuda")
        frame0, frame1, flow01, flow10 = inputs(args.batch, torch.device("cuda"))
        print_gpu_rates("", lambda: model(frame0, frame1, flow01, flow10), args.batch, args.runs)


if __name__ == "__main__":
    main()
