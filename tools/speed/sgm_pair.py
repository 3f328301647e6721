"""Segment-guided matching: seconds per frame pair at 960x540, stage by stage.

    python tools/speed/sgm_pair.py [--vgg vgg19-dcbb9e9d.pth] [FRAME0 FRAME1 ...] [--style japan] [--runs 3]

Frames come in pairs, resized to 960x540 as the official SGM script did. By default two real
pairs from ../shared/data: a typical one (two keyframes of one cut, about 80 colour pieces a
frame) and a dense one (the 1080p triplet's frames 1 and 3, 700-800 pieces). Without ``--vgg``
the VGG-19 weights are random (the speed is the same).

Each run after a warm-up times the stages one by one (the two frames segmented in two threads,
as ``compute_sgm`` does), then ``compute_sgm`` as a whole, which computes the VGG features while
it segments, then VGG-19 alone on the same frames. Printed: medians, the best whole run, the ratio
of each run's whole to the VGG-19 pass after it (target: 1.15), the pieces and mutual matches, the CPU part
(everything but VGG-19: what is left on the CPU when VGG-19 runs on a GPU), and VGG-19's
arithmetic against this machine's convolution rate (see ``forward_timing``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import torch
from forward_timing import compute_report, gigaflop, load_average, reference_conv_rate

from atdkit.benchmark.methods.animeinterp.sgm import VGGFeatures, compute_sgm, guide_flows, match_pieces
from atdkit.benchmark.methods.animeinterp.sgm.segmentation import segment
from atdkit.images import ImageError, read_rgb

REPO = Path(__file__).resolve().parents[2]
DATA = REPO.parent / "shared" / "data"
DEFAULT_PAIRS = [
    DATA / "pairs" / "anime_keyframes_640x540" / "konobi12_panel_009.png",
    DATA / "pairs" / "anime_keyframes_640x540" / "konobi12_panel_018.png",
    DATA / "triplets" / "ccvfi_dragon_1080p" / "frame1.png",
    DATA / "triplets" / "ccvfi_dragon_1080p" / "frame3.png",
]
STAGES = ("segmentation", "vgg", "matching", "flows")


def read(path: Path) -> np.ndarray:
    """A frame as RGB uint8, resized to 960x540; exits with one line when it cannot be read."""
    try:
        return cv2.resize(read_rgb(path), (960, 540))
    except ImageError as error:
        sys.exit(str(error))


def one_pair(frame0, frame1, vgg, style: str) -> dict:
    """Seconds of each stage of ``compute_sgm``'s steps (the same steps, timed one by one), and of the whole."""
    times, started = {}, time.perf_counter()
    with ThreadPoolExecutor(2) as pool:
        labels0, labels1 = pool.map(segment, (frame0, frame1), (style, style))
    times["segmentation"] = time.perf_counter() - started
    started = time.perf_counter()
    features = vgg(frame0, frame1)
    times["vgg"] = time.perf_counter() - started
    started = time.perf_counter()
    matches = match_pieces(features, labels0, labels1)
    times["matching"] = time.perf_counter() - started
    started = time.perf_counter()
    guide_flows(frame0, frame1, matches)
    times["flows"] = time.perf_counter() - started
    started = time.perf_counter()
    compute_sgm(frame0, frame1, vgg, style)
    times["compute_sgm"] = time.perf_counter() - started
    started = time.perf_counter()
    vgg(frame0, frame1)
    times["vgg_alone"] = time.perf_counter() - started  # just after the whole, for the ratio
    times["pieces"] = (len(matches.pieces0.counts), len(matches.pieces1.counts), int((matches.rank_sum01 <= 0).sum()))
    return times


def report_pair(paths, vgg, style: str, runs: int, reference: float) -> None:
    frame0, frame1 = (read(path) for path in paths)
    one_pair(frame0, frame1, vgg, style)  # warm-up
    timings = [one_pair(frame0, frame1, vgg, style) for _ in range(runs)]
    medians = {stage: statistics.median(run[stage] for run in timings) for stage in STAGES}
    totals = [run["compute_sgm"] for run in timings]
    ratios = sorted(run["compute_sgm"] / run["vgg_alone"] for run in timings)
    pieces0, pieces1, matched = timings[0]["pieces"]
    print(f"{paths[0].name} -> {paths[1].name} at 960x540: {pieces0} and {pieces1} pieces, {matched} mutually matched")
    print("  stages one by one: " + ", ".join(f"{stage} {seconds:.2f} s" for stage, seconds in medians.items()))
    print(f"  compute_sgm: {statistics.median(totals):.2f} s per pair (median of {runs}; best {min(totals):.2f} s)")
    print(
        f"  SGM whole / one VGG-19 pass on the same frames: {statistics.median(ratios):.3f} (median of {runs}, "
        f"each run's whole against the VGG-19 pass timed right after it; {ratios[0]:.3f}-{ratios[-1]:.3f}; "
        f"target 1.15)"
    )
    print(
        "  CPU part (all but VGG-19): "
        f"{medians['segmentation'] + medians['matching'] + medians['flows']:.2f} s per pair"
    )
    print(
        f"  VGG-19 on both frames: {compute_report(gigaflop(lambda: vgg(frame0, frame1)), medians['vgg'], reference)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("frames", nargs="*", type=Path, default=DEFAULT_PAIRS)
    parser.add_argument("--vgg", type=Path)
    parser.add_argument("--style", default="japan", choices=("japan", "western"))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    args = parser.parse_args()
    if not args.frames or len(args.frames) % 2:
        sys.exit("give frames in pairs (or none for the default pairs)")
    torch.set_num_threads(args.threads)
    if args.vgg:
        vgg = VGGFeatures.from_file(args.vgg)
    else:
        with tempfile.TemporaryDirectory() as folder:
            torch.save(VGGFeatures().state_dict(), Path(folder) / "vgg19-random.pth")
            vgg = VGGFeatures.from_file(Path(folder) / "vgg19-random.pth")
    print(f"SGM, {args.threads} threads, {load_average()}")
    reference = reference_conv_rate()
    for pair in zip(args.frames[::2], args.frames[1::2]):
        report_pair(pair, vgg, args.style, args.runs, reference)
    print(f"load average now {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
