"""Throughput of ``atdkit stats`` (triplets/s) on 960x540 triplets, measured in one run.

    python tools/speed/stats_throughput.py [DATASET_DIR] [--workers 2] [--seconds 12]

Without DATASET_DIR, a 960x540 synthetic cartoon clip (``--seconds`` long) is rendered and
every in-band candidate triplet extracted from it (no redundancy filter). The statistics are
computed from scratch on a copy of the dataset's tables (frames linked, not copied) by the
real command line in a fresh process, and two rates are printed: measuring alone (from the
command's own summary: process pool start-up included, imports excluded) and end to end
(wall time of the whole command: interpreter start, imports, tables and histograms), and
the CPU time per triplet, which other processes on a shared machine do not inflate.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from atdkit.store import Dataset

REPO = Path(__file__).resolve().parents[2]


def synthesise(folder: Path, seconds: float) -> Path:
    from atdkit.pipelines.extraction.synth import render_clip

    clip = folder / "cartoon_960x540.mp4"
    render_clip(clip, seed=1, size=(960, 540), seconds=seconds)
    dataset = folder / "dataset"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "atdkit",
            "extract",
            "--videos",
            str(clip),
            "--out",
            str(dataset),
            "--min-gap",
            "0",
            "--min-change",
            "0",
        ],
        check=True,
        capture_output=True,
        cwd=REPO,
    )
    return dataset


def fresh_copy(dataset: Path, folder: Path) -> Path:
    """The dataset's triplets.parquet and (linked) frames, without any motion statistics."""
    copy = folder / "measured"
    copy.mkdir()
    shutil.copy2(dataset / "triplets.parquet", copy / "triplets.parquet")
    (copy / "frames").symlink_to((dataset / "frames").resolve(), target_is_directory=True)
    return copy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "dataset", type=Path, nargs="?", help="an extracted dataset (default: synthesise one at 960x540)"
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=12.0, help="length of the synthetic clip")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        dataset = args.dataset or synthesise(Path(folder), args.seconds)
        triplets = Dataset(dataset).read("triplets", required=True)
        sizes = sorted({f"{w}x{h}" for w, h in zip(triplets["width"].to_pylist(), triplets["height"].to_pylist())})
        copy = fresh_copy(dataset, Path(folder))
        cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-m", "atdkit", "stats", str(copy), "--workers", str(args.workers)],
            capture_output=True,
            text=True,
            cwd=REPO,
            env={**os.environ, "COLUMNS": "200"},
        )
        wall = time.perf_counter() - started
        cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
        if result.returncode != 0:
            raise SystemExit(f"atdkit stats failed:\n{result.stderr}")
        measured = re.search(r"measured (\d+) triplet\(s\) in ([\d.]+) s", result.stderr)
        count, seconds = int(measured.group(1)), float(measured.group(2))
    print(
        f"{dataset}: {triplets.num_rows} triplets at {', '.join(sizes)}; "
        f"{args.workers} workers on {os.cpu_count()} cores"
    )
    print(f"measuring:  {count} triplets in {seconds:.2f} s = {count / seconds:.1f} triplets/s")
    print(f"end to end: {count} triplets in {wall:.2f} s = {count / wall:.1f} triplets/s (atdkit stats, fresh process)")
    print(
        f"CPU time:   {1000 * cpu / count:.0f} ms per triplet (all processes, end to end): "
        f"{args.workers * count / cpu:.1f} triplets/s on {args.workers} idle cores"
    )
    print(
        f"load average during the run: {os.getloadavg()[0]:.1f} "
        "(other processes slow the rates above, not the CPU time)"
    )


if __name__ == "__main__":
    main()
