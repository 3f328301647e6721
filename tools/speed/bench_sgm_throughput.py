"""``atdkit bench --methods animeinterp`` throughput with SGM computed from the frames: triplets/s with SGM
computed ahead (in the bench's reading threads, while the network runs on earlier triplets) and without
(each batch computes its own), measured in one run, with the scores of both compared.

    python tools/speed/bench_sgm_throughput.py [--triplets 3] [--workers 2] [--device cpu] [--triplet DIR]

Each mode runs twice, on 1 and on ``--triplets`` triplets at 960x540 (``--triplet``: a real triplet
folder resized and repeated, default the shared 1080p one; drawn ones when absent), and the rate is
the extra triplets over the extra seconds, so that loading the weights, the first triplet (nothing
to overlap with) and the summary cancel. Weight files are seeded random values in the released
layouts (the speed is the same). The bench computes SGM ahead only when the network runs on a GPU
(``--device cuda``: SGM's CPU part beside the network); on the CPU, where both share the cores, this
script turns it on to measure it.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from bench_overhead import write_layout
from forward_timing import load_average
from rich.console import Console

from atdkit.benchmark import methods as registry
from atdkit.benchmark.harness import run_bench
from atdkit.benchmark.layers.imagenet import VGG19, vgg_features
from atdkit.benchmark.methods.animeinterp import AnimeInterp
from atdkit.benchmark.results import ResultsDir

TRIPLET = Path(__file__).resolve().parents[3] / "shared" / "data" / "triplets" / "ccvfi_dragon_1080p"
SCORES = ["psnr", "ssim", "ie"]


def weight_files(root: Path) -> dict[str, Path]:
    torch.manual_seed(0)
    torch.save({"model_state_dict": AnimeInterp().state_dict()}, root / "anime_interp_full.ckpt")
    vgg = {f"features.{key}": value for key, value in vgg_features(VGG19).state_dict().items()}
    torch.save(vgg, root / "vgg19-dcbb9e9d.pth")
    return {"animeinterp": root / "anime_interp_full.ckpt", "vgg19": root / "vgg19-dcbb9e9d.pth"}


def overlapped(method: registry.Method, ahead: bool) -> registry.Method:
    """``method`` whose loaded interpolator offers ``prepare`` (SGM ahead) or not, on any device (the bench
    offers it only when the network runs on a GPU)."""

    def load(*args, **options):
        interpolate = method.load(*args, **options)
        if ahead:
            interpolate.prepare = interpolate.flows_of.prepare
        elif hasattr(interpolate, "prepare"):
            del interpolate.prepare
        return interpolate

    return replace(method, load=load)


def timed_run(data: Path, out: Path, method, weights: dict, workers: int, device: str) -> float:
    started = time.perf_counter()
    with open(os.devnull, "w") as devnull:
        run_bench(data, [method], out, device=device, weights=weights, workers=workers, console=Console(file=devnull))
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--triplets", type=int, default=3, help="triplets of the large run (the small one has 1)")
    parser.add_argument("--workers", type=int, default=2, help="the bench's reading (and scoring) threads")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--triplet", type=Path, default=TRIPLET if TRIPLET.is_dir() else None)
    args = parser.parse_args()
    if args.triplets < 2:
        parser.error("--triplets must be 2 or more")
    method = registry.get("animeinterp")
    modes = {"SGM ahead (overlapped)": overlapped(method, True), "SGM in each batch": overlapped(method, False)}
    print(
        f"atdkit bench --methods animeinterp, {args.device}, {args.workers} workers, {torch.get_num_threads()} "
        f"torch threads, 960x540 ({'real: ' + str(args.triplet) if args.triplet else 'drawn'}); {load_average()}"
    )
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        weights = weight_files(root)
        for count in (1, args.triplets):
            write_layout(root / f"data{count}", count, args.triplet)
        os.environ["ATDKIT_CACHE"] = str(root / "cache")
        seconds = {}
        for count in (1, args.triplets):  # the modes alternate, so that a busier moment hits both
            for name, chosen in modes.items():
                out = root / f"out-{count}-{len(seconds)}"
                seconds[name, count] = timed_run(root / f"data{count}", out, chosen, weights, args.workers, args.device)
                seconds[name, "rows"] = ResultsDir(out).rows().sort_values("triplet_id")[["triplet_id", *SCORES]]
        rates = {}
        for name in modes:
            per_triplet = (seconds[name, args.triplets] - seconds[name, 1]) / (args.triplets - 1)
            rates[name] = 1 / per_triplet
            print(
                f"{name}: runs of 1 and {args.triplets} triplets {seconds[name, 1]:.1f} s and "
                f"{seconds[name, args.triplets]:.1f} s; {per_triplet:.2f} s per triplet, {rates[name]:.3f} triplets/s"
            )
        ahead, each = (seconds[name, "rows"] for name in modes)
        same = ahead["triplet_id"].tolist() == each["triplet_id"].tolist()
        largest = max(float(np.max(np.abs(ahead[s].to_numpy() - each[s].to_numpy()))) for s in SCORES) if same else None
        print(
            f"overlap speed-up: {rates[next(iter(modes))] / rates[list(modes)[1]]:.2f}x; scores of the "
            f"{args.triplets} triplets: "
            + ("identical" if largest == 0 else f"largest difference {largest}" if same else "different triplets")
        )
    print(f"load average now {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
