"""Ray's overhead on extraction: frames/s of ``--executor local`` and ``--executor ray`` at equal workers.

    python tools/speed/ray_overhead.py [CLIP ...] [--workers 2] [--repeats 3]

Default clips: the shared test clips (../shared/data/clips). Both modes extract the same films
into a fresh dataset, each run in a child process of its own (imports not timed), the modes
alternating, ``--repeats`` times:
- ``local``: the process pool of ``--workers`` processes, its start-up timed;
- ``ray``: a new job on a Ray cluster of ``--workers`` CPUs that this script starts first (``ray
  start --head``, not timed); connecting is not timed, the job's worker processes starting is.
Timed: from opening the executor to the last film's row (decoding, analysis, PNG writing and the
scheduling around them). Prints the median frames/s of each and Ray's overhead over local: what
a command pays. Each child then extracts the films a second time, to show the cost per unit alone:
for ``ray`` on the job's warm workers (the start-up a long run amortises), for ``local`` in a new
pool (what every run pays).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TARGET = 0.15


def run_child(mode: str, clips: list[str], workers: int, address: str) -> dict:
    """Run in a child process: time two extractions of ``clips`` with ``mode``."""
    from atdkit.pipelines.executors import LocalExecutor, RayExecutor
    from atdkit.pipelines.extraction.films import identify
    from atdkit.pipelines.extraction.scan import ExtractSettings
    from atdkit.pipelines.extraction.units import extract_films
    from atdkit.store import Dataset

    films, _ = identify([Path(c).resolve() for c in clips], {})
    if mode == "ray":
        import ray

        ray.init(address=address, logging_level="ERROR", log_to_driver=False)
    seconds = []
    for _ in range(2):
        with tempfile.TemporaryDirectory() as folder:
            started = time.perf_counter()
            executor = (
                RayExecutor(workers, lambda *_: None) if mode == "ray" else LocalExecutor(workers, lambda *_: None)
            )
            with executor:
                rows = list(extract_films([(film, ExtractSettings()) for film in films], Dataset(folder), executor))
            seconds.append(time.perf_counter() - started)
    return {"frames": sum(row["frame_count"] or 0 for row in rows), "seconds": seconds}


def start_cluster(workers: int) -> tuple[subprocess.Popen, str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    address = f"127.0.0.1:{port}"
    ray = str(Path(sys.executable).with_name("ray"))
    head = subprocess.Popen(
        [
            ray,
            "start",
            "--head",
            "--block",
            "--port",
            str(port),
            "--num-cpus",
            str(workers),
            "--node-ip-address",
            "127.0.0.1",
            "--include-dashboard=false",
            "--disable-usage-stats",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 90
    while (
        f"/{workers}.0 CPU"
        not in subprocess.run([ray, "status", "--address", address], capture_output=True, text=True).stdout
    ):
        if head.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("the Ray head did not start")
        time.sleep(0.5)
    return head, address


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("clips", nargs="*", help="video files (default: the shared test clips)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", choices=("local", "ray"), help=argparse.SUPPRESS)
    parser.add_argument("--address", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_child(args.child, args.clips, args.workers, args.address)))
        return
    clips = args.clips or [str(p) for p in sorted((REPO.parent / "shared" / "data" / "clips").iterdir())]
    os.environ.update(
        RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=secrets.token_hex(32)
    )  # this cluster's own token, for its children
    head, address = start_cluster(args.workers)
    rates: dict[str, list[float]] = {"local": [], "ray": []}
    again: dict[str, list[float]] = {"local": [], "ray": []}
    try:
        for _ in range(args.repeats):
            for mode in rates:
                command = [
                    sys.executable,
                    __file__,
                    *clips,
                    "--workers",
                    str(args.workers),
                    "--child",
                    mode,
                    "--address",
                    address,
                ]
                result = json.loads(
                    subprocess.run(command, capture_output=True, text=True, check=True, cwd=REPO).stdout.splitlines()[
                        -1
                    ]
                )
                first, second = (result["frames"] / seconds for seconds in result["seconds"])
                rates[mode].append(first)
                again[mode].append(second)
                print(
                    f"{mode:>5}: {result['frames']} frames in {result['seconds'][0]:.2f} s = {first:,.0f} frames/s "
                    f"(second run {second:,.0f} frames/s)",
                    flush=True,
                )
    finally:
        head.terminate()
        head.wait(timeout=60)
    local, ray = (statistics.median(rates[m]) for m in ("local", "ray"))
    overhead = local / ray - 1
    print(
        f"{len(clips)} clip(s), {args.workers} workers, {os.cpu_count()} CPU(s), "
        f"load average {os.getloadavg()[0]:.1f}; "
        f"median of {args.repeats}:"
    )
    print(
        f"local {local:,.0f} frames/s, ray {ray:,.0f} frames/s: Ray's overhead {overhead:+.1%} "
        f"({'within' if overhead <= TARGET else 'over'} the {TARGET:.0%} target)"
    )
    local, ray = (statistics.median(again[m]) for m in ("local", "ray"))
    print(
        f"second runs: local (new pool) {local:,.0f} frames/s, ray (warm workers) {ray:,.0f} frames/s: "
        f"{local / ray - 1:+.1%}"
    )


if __name__ == "__main__":
    main()
