"""Harness overhead per triplet of ``atdkit bench`` at 960x540, measured with ``repeat`` in one run.

    python tools/speed/bench_overhead.py [--triplets 100] [--triplet DIR]

``repeat`` costs nothing, so the time of a benchmark run is the harness's: reading three
PNGs, scoring (PSNR, SSIM, IE, RoI), committing rows; plus fixed costs (summary, plots,
contact sheet). Two runs on a small and a large copy of the same data separate the two: the
per-triplet overhead is the difference of their times over the difference of their sizes. The
official layout has no motion table: the first run on the data also measures each triplet's motion
(DIS), later runs read it from the cache (``benchmark/motion_cache.py``); both are reported.
Frames are cartoon-like drawings (flat shapes on gradients) or, with ``--triplet DIR``, one
real triplet resized to 960x540 and repeated. The target is under 50 ms per triplet, so that
the harness adds under 2 minutes to a 2,000-triplet test set.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

from atdkit import schema
from atdkit.benchmark.data import load_triplet, measure_motion, open_data
from atdkit.benchmark.harness import run_bench
from atdkit.benchmark.scoring.profiles import PROFILES, unit_float32
from atdkit.benchmark.scoring.scores import score
from atdkit.images import read_rgb, resize_lanczos, write_image
from atdkit.pipelines.formats import atd12k
from atdkit.store import write_file

SIZE = (960, 540)


def cartoon(rng: np.random.Generator) -> np.ndarray:
    """A flat-shaded drawing: gradient background, outlined polygons and discs."""
    width, height = SIZE
    ramp = np.linspace(0, 1, height, dtype=np.float32)[:, None, None]
    top, bottom = rng.uniform(60, 230, 3), rng.uniform(30, 200, 3)
    image = np.ascontiguousarray(
        np.broadcast_to(top + (bottom - top) * ramp, (height, width, 3)).round().astype(np.uint8)
    )
    for _ in range(12):
        centre = rng.uniform((0, 0), SIZE)
        points = centre + rng.normal(0, 60, (6, 2))
        polygon = [np.round(points * 16).astype(np.int32)]
        cv2.fillPoly(image, polygon, rng.uniform(0, 255, 3).tolist(), cv2.LINE_AA, 4)
        cv2.polylines(image, polygon, True, (20, 20, 20), 2, cv2.LINE_AA, 4)
    return image


def write_layout(root: Path, count: int, source: Path | None) -> None:
    rng = np.random.default_rng(0)
    real = [resize_lanczos(read_rgb(source / f"frame{n}.png"), SIZE) for n in (1, 2, 3)] if source else None
    for i in range(count):
        triplet_id = f"Japan_v2_0_{i:06d}_s3"
        for n, image in enumerate(real or [cartoon(rng) for _ in range(3)], 1):
            write_image(root / atd12k.TEST_540P / triplet_id / f"frame{n}.png", image)
        labels = atd12k.annotation_json(
            schema.DIFFICULTIES[i % 3], (400, 200, 900, 600), (1920, 1080), ["translation"], ["walking"]
        )
        write_file(root / atd12k.TEST_ANNOTATIONS / triplet_id / f"{triplet_id}.json", labels)


def two_layouts(root: Path, triplets: int, source: Path | None) -> tuple[int, int]:
    """A small (a fifth) and a large copy of the same kind of data, ``root/data<count>``: their sizes."""
    small, large = max(2, triplets // 5), triplets
    for count in (small, large):
        write_layout(root / f"data{count}", count, source)
    return small, large


def timed_run(data: Path, out: Path, method: str = "repeat", **bench) -> tuple[float, float]:
    """Wall-clock and CPU seconds (all threads) of one run of ``method`` (``bench``: more run_bench arguments)."""
    from rich.console import Console

    started, cpu = time.perf_counter(), time.process_time()
    with open(os.devnull, "w") as devnull:
        run_bench(data, [method], out, device="cpu", console=Console(file=devnull), **bench)
    return time.perf_counter() - started, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--triplets", type=int, default=100, help="triplets of the large run (the small one has a fifth)"
    )
    parser.add_argument(
        "--triplet", type=Path, help="a real triplet folder (frame1.png ...) to repeat instead of drawings"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        small, large = two_layouts(root, args.triplets, args.triplet)
        os.environ["ATDKIT_CACHE"] = str(root / "warm-up-cache")
        timed_run(root / f"data{small}", root / "warm-up")  # lazy imports, first allocations
        os.environ["ATDKIT_CACHE"] = str(root / "cache")  # empty: the first runs measure motion, the next read it
        timings = {
            (count, visit): timed_run(root / f"data{count}", root / f"out{count}-{visit}")
            for visit in ("first", "later")
            for count in (small, large)
        }
        per_triplet = {
            (visit, i): (timings[(large, visit)][i] - timings[(small, visit)][i]) / (large - small)
            for visit in ("first", "later")
            for i in (0, 1)
        }

        triplets = open_data(root / f"data{small}").triplets
        profile = PROFILES["atd12k"]
        started = time.perf_counter()
        loaded = [load_triplet(replace(t, motion=0.0, occlusion=0.0), profile.size) for t in triplets]
        load_ms = (time.perf_counter() - started) / len(loaded) * 1000
        started = time.perf_counter()
        for item in loaded:
            measure_motion(item.frames)
        motion_ms = (time.perf_counter() - started) / len(loaded) * 1000
        started = time.perf_counter()
        for item in loaded:
            truth = unit_float32(item.frames[1])
            score(item.frames[0] / 255.0, truth, profile, None, item.triplet.roi, item.triplet.image_size)
        score_ms = (time.perf_counter() - started) / len(loaded) * 1000

    print(
        f"machine: {os.cpu_count()} CPU cores; frames {SIZE[0]}x{SIZE[1]} "
        f"({'real: ' + str(args.triplet) if args.triplet else 'drawn'}); load average {os.getloadavg()[0]:.1f} "
        "(whether others shared the cores)"
    )
    print(
        f"in isolation, one thread: reading 3 PNGs {load_ms:.1f} ms, measuring motion (DIS) {motion_ms:.1f} ms, "
        f"scoring (Whole + RoI) {score_ms:.1f} ms per triplet"
    )
    for visit, what in (("first", "first run on the data, motion measured"), ("later", "later runs, motion cached")):
        seconds, cpu = per_triplet[(visit, 0)], per_triplet[(visit, 1)]
        print(
            f"{what}: runs of {small} and {large} triplets {timings[(small, visit)][0]:.2f} s and "
            f"{timings[(large, visit)][0]:.2f} s; harness overhead {seconds * 1000:.1f} ms per triplet "
            f"(CPU, all threads: {cpu * 1000:.1f} ms); 2,000 triplets: {seconds * 2000 / 60:.1f} min"
        )
    print("target: under 50 ms per triplet")


if __name__ == "__main__":
    main()
