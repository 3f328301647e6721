"""Extraction throughput against FFmpeg decoding alone, on the same file, in one run.

    python tools/speed/extract_vs_decode.py CLIP [CLIP ...] [--repeats 2]

Every mode is a whole process, timed from its start to its exit (Python's start-up and imports
included), with its CPU time and peak resident memory:
- ``ffmpeg``: the ffmpeg binary decoding every frame to nothing (``-f null``), the baseline;
- ``scan``: ``atdkit extract --dry-run`` (decode + SSIM analysis + selection + tables);
- ``full``: ``atdkit extract`` (the same plus writing the kept frames as PNG).
The modes run in turn, ``--repeats`` times, and the fastest run of each counts. Prints frames/s
of each and its ratio to ``ffmpeg``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MODES = ("ffmpeg", "scan", "full")


def command(mode: str, clip: Path, out: Path) -> list[str]:
    from atdkit.video import ffmpeg_executable

    if mode == "ffmpeg":
        return [ffmpeg_executable(), "-v", "quiet", "-i", str(clip), "-map", "0:v:0", "-f", "null", "-"]
    extract = [sys.executable, "-m", "atdkit", "extract", "--videos", str(clip), "--out", str(out)]
    return extract + (["--dry-run"] if mode == "scan" else [])


def run(mode: str, clip: Path) -> dict:
    """Run ``mode`` once in a fresh process (and a fresh dataset folder): wall and CPU seconds, peak MB."""
    with tempfile.TemporaryDirectory() as folder, open(Path(folder) / "log", "w+") as log:
        started = time.perf_counter()
        child = subprocess.Popen(command(mode, clip, Path(folder) / "dataset"), stdout=log, stderr=log)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
        if status:
            log.seek(0)
            raise SystemExit(f"{mode} failed on {clip}: {log.read()[-2000:]}")
    return {"seconds": seconds, "cpu": usage.ru_utime + usage.ru_stime, "peak_mb": usage.ru_maxrss / 1024}


def frame_count(clip: Path) -> int:
    from atdkit.video import open_video

    stream = open_video(clip)
    try:
        return sum(1 for _ in stream.frames())
    finally:
        stream.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clips", type=Path, nargs="+")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores; whole processes, fastest of {args.repeats} runs each")
    header = ("clip", "mode", "frames", "seconds", "cpu s", "frames/s", "/ffmpeg", "peak MB")
    print("{:<34} {:<7} {:>7} {:>8} {:>7} {:>9} {:>8} {:>8}".format(*header))
    for clip in args.clips:
        frames = frame_count(clip)
        runs: dict[str, list[dict]] = {mode: [] for mode in MODES}
        for _ in range(args.repeats):
            for mode in MODES:
                runs[mode].append(run(mode, clip))
        best = {mode: min(results, key=lambda r: r["seconds"]) for mode, results in runs.items()}
        baseline = frames / best["ffmpeg"]["seconds"]
        for mode, r in best.items():
            fps = frames / r["seconds"]
            print(
                f"{clip.name[:34]:<34} {mode:<7} {frames:>7} {r['seconds']:>8.2f} {r['cpu']:>7.2f} {fps:>9.0f}"
                f" {fps / baseline:>8.2f} {r['peak_mb']:>8.0f}"
            )


if __name__ == "__main__":
    main()
