"""Server-side time to move to the next triplet in the annotation app.

Builds (or reuses) a dataset of ``--triplets`` triplets with 1080p frames (by default those of the
real 1080p triplet in ``../shared/data``, else a synthetic clip's) and a labelling
history of ``--labelled`` triplets by two annotators (one part file per label), then drives
the real app with Streamlit's AppTest as a third annotator: each switch is one Submit
(writes a part, reads the new parts, picks the next triplet from the queue, prepares its
images and draws the page). ``--think`` seconds pass between switches, as when a person
looks at the triplet; the app prepares the next triplets' images meanwhile. Also reports
the cost of preparing one triplet's images from scratch (what a switch costs without that
cache).

    python tools/speed/annotation_switch.py [--work DIR] [--triplets 2000] [--switches 30]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DRAGON = REPO.parent / "shared" / "data" / "triplets" / "ccvfi_dragon_1080p"


def build_dataset(work: Path, count: int, labelled: int, frames: Path | None) -> Path:
    """``count`` triplets whose frames are hard links to one real triplet's frames (``frames``), or else to
    the 1080p triplets extracted from a synthetic clip; ``labelled`` of them labelled by alice and bob."""
    import shutil

    import cv2
    from rich.console import Console

    from atdkit.pipelines.executors import ExecutorChoice
    from atdkit.pipelines.extraction.run import extract
    from atdkit.pipelines.extraction.synth import render_clip
    from atdkit.pipelines.labels.annotations import ANNOTATIONS, label_row, write_part
    from atdkit.store import Dataset

    root = work / f"dataset_{count}_{'real' if frames else 'synthetic'}"
    if Dataset(root).has("triplets"):
        return root
    if frames:
        source = work / "real_frames"
        (source / "real").mkdir(parents=True, exist_ok=True)
        for n in (1, 2, 3):
            shutil.copy(frames / f"frame{n}.png", source / "real" / f"frame{n}.png")
        height, width = cv2.imread(str(source / "real" / "frame2.png")).shape[:2]
        base = [
            {
                "triplet_id": "real",
                "source_id": "bench",
                "series": None,
                "frames": [0, 1, 2],
                "interval": 0,
                "timestamps": [0.0, 0.04, 0.08],
                "ssim_12": 0.9,
                "ssim_23": 0.9,
                "ssim_13": 0.85,
                "width": width,
                "height": height,
            }
        ]
    else:
        clip = work / "clip_1080p.mp4"
        if not clip.exists():
            render_clip(clip, seed=4, size=(1920, 1080), seconds=3)
        extracted = Dataset(work / "extracted")
        if not extracted.has("triplets"):
            extract(
                [str(clip)],
                extracted,
                {"min_gap": 0, "min_change": 0.0},
                ExecutorChoice(workers=2),
                Console(stderr=True, quiet=True),
            )
        base, source = extracted.rows("triplets"), extracted.frames_dir
    rows = []
    for index in range(count):
        row = dict(base[index % len(base)])
        original = row["triplet_id"]
        row["triplet_id"] = f"bench_{index:05d}"
        folder = root / "frames" / row["triplet_id"]
        folder.mkdir(parents=True)
        for n in (1, 2, 3):
            os.link(source / original / f"frame{n}.png", folder / f"frame{n}.png")
        rows.append(row)
    stamp = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
    for person in ("alice", "bob"):
        for index, row in enumerate(rows[:labelled]):
            write_part(
                root,
                ANNOTATIONS,
                person,
                [
                    label_row(
                        row["triplet_id"],
                        person,
                        True,
                        difficulty="medium",
                        roi=(100, 100, 400, 300),
                        created_at=stamp + dt.timedelta(seconds=index),
                    )
                ],
            )
    Dataset(root).write("triplets", rows)
    return root


def measure(dataset: Path, switches: int, think: float, person: str) -> list[float]:
    """Seconds per Submit of ``person``, in a fresh app process state (no image prepared yet)."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from atdkit import annotation_ui

    st.cache_resource.clear()
    sys.argv = ["streamlit_app.py", "--dataset", str(dataset)]
    app = AppTest.from_file(str(Path(annotation_ui.__file__).with_name("streamlit_app.py")), default_timeout=120)
    app.query_params["annotator"] = person
    app.run()
    times = []
    for _ in range(switches):
        app.button(key="label_eligible_yes").click().run()
        app.button(key="label_difficulty_medium").click().run()
        time.sleep(think)
        start = time.perf_counter()
        app.button(key="label_submit").click().run()
        times.append(time.perf_counter() - start)
        if app.exception or app.error:
            raise RuntimeError(f"the app failed: {app.exception or app.error}")
    return times


def summary(name: str, times: list[float]) -> str:
    ordered = sorted(times)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    return (
        f"{name:<44} median {statistics.median(times) * 1000:7.1f} ms   p90 {p90 * 1000:7.1f} ms   "
        f"max {max(times) * 1000:7.1f} ms   ({len(times)} switches)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--work", type=Path, help="folder for the clip and the dataset (default: a new temporary folder)"
    )
    parser.add_argument("--triplets", type=int, default=2000)
    parser.add_argument(
        "--labelled", type=int, default=600, help="triplets alice and bob already labelled (default 600)"
    )
    parser.add_argument("--switches", type=int, default=30)
    parser.add_argument("--think", type=float, default=1.0, help="seconds between switches (default 1.0)")
    parser.add_argument(
        "--frames",
        type=Path,
        default=DRAGON if DRAGON.is_dir() else None,
        help="a folder with frame1.png, frame2.png, frame3.png that every triplet shows "
        "(default: the real 1080p triplet in ../shared/data when present, else synthetic frames)",
    )
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="atdkit-annotation-bench-"))
    work.mkdir(parents=True, exist_ok=True)

    started = time.perf_counter()
    dataset = build_dataset(work, args.triplets, args.labelled, args.frames)
    print(
        f"dataset: {dataset} ({args.triplets} triplets, frames from {args.frames or 'a synthetic 1080p clip'}, "
        f"{2 * args.labelled} label parts), "
        f"ready in {time.perf_counter() - started:.1f} s"
    )

    from atdkit.annotation_ui.images import render

    folders = sorted((dataset / "frames").iterdir())[-5:]
    cold = []
    for folder in folders:
        start = time.perf_counter()
        render(folder)
        cold.append(time.perf_counter() - start)
    print(summary("display images of one triplet, from scratch", cold))
    print(summary(f"switch, {args.think:g} s between switches", measure(dataset, args.switches, args.think, "carol")))
    print(summary("switch, no time between switches", measure(dataset, args.switches, 0.0, "dave")))
    print(f"machine: {os.cpu_count()} CPU(s); Python {sys.version.split()[0]}")


if __name__ == "__main__":
    main()
