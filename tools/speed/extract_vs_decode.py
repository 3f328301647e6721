"""Extraction throughput against decoding alone, on the same file, in one run.

    python tools/speed/extract_vs_decode.py CLIP [--analysis-size 320x180]

Each mode runs in its own process (so its peak memory can be read) and times only its
own work, not Python's start-up: every mode runs twice and the second run is timed, so
one-off costs (lazy imports, first allocations) are not counted as per-frame cost.
- ``ffmpeg``: the ffmpeg binary decoding every frame to nothing (``-f null``);
- ``decode``: atdkit's PyAV reader decoding every frame and discarding it (the baseline);
- ``dry-run``: ``atdkit extract --dry-run`` (decode + SSIM analysis + selection + tables);
- ``full``: ``atdkit extract`` (the same plus writing the kept frames as PNG).
Prints frames/s of each, the ratios to ``decode`` and the peak resident memory.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def measure(mode: str, clip: Path, analysis_size: str) -> dict:
    """Run in a child process: time ``mode`` on ``clip`` (second of two runs)."""
    run_once(mode, clip, analysis_size)
    return run_once(mode, clip, analysis_size)


def run_once(mode: str, clip: Path, analysis_size: str) -> dict:
    from atdkit.sizes import parse_size
    from atdkit.video import ffmpeg_executable, open_video

    if mode == "ffmpeg":
        started = time.perf_counter()
        subprocess.run(
            [ffmpeg_executable(), "-v", "quiet", "-i", str(clip), "-map", "0:v:0", "-f", "null", "-"], check=True
        )
        seconds = time.perf_counter() - started
        stream = open_video(clip)
        frames = sum(1 for _ in stream.frames())
        return {"frames": frames, "seconds": seconds}
    if mode == "decode":
        stream = open_video(clip)
        started = time.perf_counter()
        frames = sum(1 for _ in stream.frames())
        return {"frames": frames, "seconds": time.perf_counter() - started}
    from atdkit.pipelines.extraction.films import identify
    from atdkit.pipelines.extraction.scan import ExtractSettings, FilmJob, process_film
    from atdkit.store import Dataset

    with tempfile.TemporaryDirectory() as folder:
        dataset = Dataset(folder)
        films, _ = identify([clip.resolve()], {})
        settings = ExtractSettings(dry_run=mode == "dry-run", analysis_size=parse_size(analysis_size))
        started = time.perf_counter()
        row = process_film(FilmJob(films[0], settings, dataset.root), lambda *_: None)
        seconds = time.perf_counter() - started
    return {"frames": row["frame_count"], "seconds": seconds, "kept": row["kept"]}


def run_child(mode: str, clip: Path, analysis_size: str) -> dict:
    child = subprocess.Popen(
        [sys.executable, __file__, str(clip), "--analysis-size", analysis_size, "--child", mode],
        stdout=subprocess.PIPE,
        text=True,
    )
    output = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    if status:
        raise SystemExit(f"{mode} run failed on {clip}")
    result = json.loads(output)
    result["peak_mb"] = usage.ru_maxrss / 1024
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clip", type=Path)
    parser.add_argument("--analysis-size", default="320x180")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args.clip, args.analysis_size)))
        return
    results = {mode: run_child(mode, args.clip, args.analysis_size) for mode in ("ffmpeg", "decode", "dry-run", "full")}
    baseline = results["decode"]["frames"] / results["decode"]["seconds"]
    print(f"{args.clip} on {os.cpu_count()} cores, analysis box {args.analysis_size}")
    print(f"{'mode':<8} {'frames':>7} {'seconds':>8} {'frames/s':>9} {'vs decode':>9} {'peak MB':>8}")
    for mode, r in results.items():
        fps = r["frames"] / r["seconds"]
        print(
            f"{mode:<8} {r['frames']:>7} {r['seconds']:>8.2f} {fps:>9.0f} {fps / baseline:>9.2f} {r['peak_mb']:>8.0f}"
        )
    print(f"kept triplets: {results['full'].get('kept')}")


if __name__ == "__main__":
    main()
