"""What LPIPS (AlexNet) and the chamfer distance add to ``atdkit bench --methods blend`` per triplet at
960x540, measured in one run.

    python tools/speed/perceptual_overhead.py [--triplets 40] [--triplet DIR]

For each set of metrics (the default PSNR/SSIM/IE; + cd; + lpips; + lpips cd) two runs of ``blend``, on
a small and a large copy of the same data, give the per-triplet time as the difference of their times
over the difference of their sizes (fixed costs such as loading LPIPS drop out), with the triplets'
motion already measured (as in any run after the first on the same data). The AlexNet backbone
is a file of seeded random weights in torchvision's layout: it costs what the real weights cost. The
target: LPIPS and CD together add at most 30% to blend's per-triplet time.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import numpy as np
import torch
from bench_overhead import timed_run, two_layouts
from forward_timing import compute_report, gigaflop, reference_conv_rate, timed

from atdkit.benchmark.layers.imagenet import alexnet_features
from atdkit.benchmark.scoring.chamfer import chamfer_distance
from atdkit.benchmark.scoring.lpips import LPIPS

METRIC_SETS = {"default": (), "+ cd": ("cd",), "+ lpips": ("lpips",), "+ lpips cd": ("lpips", "cd")}


def random_alexnet(path: Path) -> Path:
    torch.manual_seed(0)
    torch.save({f"features.{key}": value for key, value in alexnet_features().state_dict().items()}, path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--triplets", type=int, default=40, help="triplets of the large runs (the small ones: a fifth)")
    parser.add_argument("--triplet", type=Path, help="a real triplet folder (frame1.png ...) to repeat instead")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        small, large = two_layouts(root, args.triplets, args.triplet)
        weights = {"alexnet": random_alexnet(root / "alexnet-random.pth")}
        os.environ["ATDKIT_CACHE"] = str(root / "cache")  # warm-up runs measure the motion, every timed run reads it
        for count in (small, large):
            timed_run(
                root / f"data{count}", root / f"warm-up{count}", "blend", metrics=("lpips", "cd"), weights=weights
            )
        per_triplet = {}
        for name, metrics in METRIC_SETS.items():
            times = {
                count: timed_run(
                    root / f"data{count}",
                    root / f"{name}-{count}",
                    "blend",
                    metrics=metrics,
                    weights=weights if "lpips" in metrics else None,
                )[0]
                for count in (small, large)
            }
            per_triplet[name] = (times[large] - times[small]) / (large - small)

        network = LPIPS.from_files("alex", weights["alexnet"])
        first, second = torch.rand(2, 1, 3, 540, 960) * 2 - 1
        lpips_alone, _ = timed(lambda: network(first, second), runs=5)
        lpips_gflop = gigaflop(lambda: network(first, second))
        a, b = np.random.default_rng(0).random((2, 540, 960, 3))
        cd_alone, _ = timed(lambda: chamfer_distance(a, b), runs=5)
        reference = reference_conv_rate()

    print(
        f"machine: {os.cpu_count()} CPU cores, {torch.get_num_threads()} PyTorch threads; blend on "
        f"{'real: ' + str(args.triplet) if args.triplet else 'drawn'} 960x540 triplets ({small} and {large})"
    )
    base = per_triplet["default"]
    for name, seconds in per_triplet.items():
        print(f"  metrics {name:<11} {seconds * 1000:7.1f} ms per triplet  ({seconds / base:.2f}x the default)")
    print(
        f"in isolation: LPIPS (AlexNet, prediction and truth) {lpips_alone * 1000:.1f} ms, CD {cd_alone * 1000:.1f} ms"
    )
    print(f"LPIPS: {compute_report(lpips_gflop, lpips_alone, reference)}")
    added = per_triplet["+ lpips cd"] / base - 1
    print(f"LPIPS and CD add {added:.0%} to blend's per-triplet time (target: at most 30%)")
    print(
        f"30% of blend's {base * 1000:.0f} ms is {base * 300:.0f} ms: LPIPS alone would need "
        f"{lpips_gflop / (base * 0.3):.0f} GFLOPS"
    )


if __name__ == "__main__":
    main()
