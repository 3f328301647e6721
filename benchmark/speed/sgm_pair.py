"""Segment-guided matching: seconds per frame pair at 960x540, stage by stage.

    python benchmark/speed/sgm_pair.py [--vgg vgg19-dcbb9e9d.pth] [FRAME0 FRAME1] [--style japan] [--runs 3]

Frames default to the real 1080p triplet in ../shared/data (frame1 and frame3, resized to
960x540 as the official SGM script did); without ``--vgg`` the VGG-19 weights are random
(the speed is the same). Each run after a warm-up times the stages one by one, then
``compute_sgm`` as a whole (which computes the VGG features while it segments); medians are
printed (and the best whole), with the number of colour pieces and of mutually matched pieces.
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

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from benchmark.methods.animeinterp.sgm import VGGFeatures, compute_sgm  # noqa: E402
from benchmark.methods.animeinterp.sgm.flow_generation import guide_flow  # noqa: E402
from benchmark.methods.animeinterp.sgm.matching import Pieces, matching_degree, mutual_matching, pooled_features  # noqa: E402
from benchmark.methods.animeinterp.sgm.segmentation import segment  # noqa: E402

DEFAULT_PAIR = [REPO.parent / "shared" / "data" / "triplets" / "ccvfi_dragon_1080p" / f"frame{n}.png" for n in (1, 3)]


def read(path: Path) -> np.ndarray:
    image = cv2.imread(str(path))
    if image is None:
        sys.exit(f"{path}: not a readable image")
    return np.ascontiguousarray(cv2.resize(image, (960, 540))[:, :, ::-1])


def one_pair(frame0, frame1, vgg, style: str) -> dict:
    """Seconds of each stage of ``compute_sgm``'s steps (the same steps, timed one by one)."""
    times, started = {}, time.perf_counter()
    labels0, labels1 = segment(frame0, style), segment(frame1, style)
    times["segmentation"] = time.perf_counter() - started
    started = time.perf_counter()
    features = vgg(frame0, frame1)
    times["vgg"] = time.perf_counter() - started
    started = time.perf_counter()
    pieces0, pieces1 = Pieces.of(labels0), Pieces.of(labels1)
    degree = matching_degree(pooled_features([f[:1] for f in features], labels0), pooled_features([f[1:] for f in features], labels1),
                             pieces0, pieces1)
    match01, rank01, match10, rank10 = (t.numpy() for t in mutual_matching(degree))
    times["matching"] = time.perf_counter() - started
    started = time.perf_counter()
    grey0, grey1 = (cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in (frame0, frame1))
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(guide_flow, (grey0, grey1), (grey1, grey0), (pieces0, pieces1), (pieces1, pieces0), (match01, match10), (rank01, rank10)))
    times["flows"] = time.perf_counter() - started
    started = time.perf_counter()
    compute_sgm(frame0, frame1, vgg, style)
    times["compute_sgm"] = time.perf_counter() - started  # all of it, VGG overlapped with the segmentation
    times["pieces"] = (len(pieces0.counts), len(pieces1.counts), int((rank01 <= 0).sum()))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("frames", nargs="*", type=Path, default=DEFAULT_PAIR)
    parser.add_argument("--vgg", type=Path)
    parser.add_argument("--style", default="japan", choices=("japan", "western"))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    args = parser.parse_args()
    if len(args.frames) != 2:
        sys.exit("give two frames (or none for the default pair)")
    torch.set_num_threads(args.threads)
    frame0, frame1 = (read(path) for path in args.frames)
    if args.vgg:
        vgg = VGGFeatures.from_file(args.vgg)
    else:
        with tempfile.TemporaryDirectory() as folder:
            torch.save(VGGFeatures().state_dict(), Path(folder) / "vgg19-random.pth")
            vgg = VGGFeatures.from_file(Path(folder) / "vgg19-random.pth")
    one_pair(frame0, frame1, vgg, args.style)  # warm-up
    runs = [one_pair(frame0, frame1, vgg, args.style) for _ in range(args.runs)]
    stages = ("segmentation", "vgg", "matching", "flows")
    medians = {stage: statistics.median(run[stage] for run in runs) for stage in stages}
    totals = [run["compute_sgm"] for run in runs]
    pieces0, pieces1, matched = runs[0]["pieces"]
    print(f"SGM at 960x540, {args.threads} threads, load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; "
          f"{pieces0} and {pieces1} pieces, {matched} mutually matched")
    print("  stages one by one: " + ", ".join(f"{stage} {seconds:.2f} s" for stage, seconds in medians.items()))
    print(f"  compute_sgm: {statistics.median(totals):.2f} s per pair (median of {args.runs}; best {min(totals):.2f} s); "
          f"load average now {os.getloadavg()[0]:.2f}")

if __name__ == "__main__":
    main()
