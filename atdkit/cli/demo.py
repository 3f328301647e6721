"""``atdkit demo``: the pipeline end to end on a generated cartoon clip (synthesise, extract, stats, bench)."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from rich.console import Console

from atdkit.cli.bench import print_scores
from atdkit.cli.common import Command
from atdkit.cli.dataset import print_extraction
from atdkit.cli.statistics import print_motion
from atdkit.store import Dataset


def demo_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out", type=Path, help="folder for the clip and the dataset (default: a new temporary folder)"
    )


def demo(args: argparse.Namespace, console: Console) -> int:
    from atdkit.benchmark.harness import run_bench
    from atdkit.benchmark.methods import weightless
    from atdkit.pipelines.executors import ExecutorChoice
    from atdkit.pipelines.extraction import run
    from atdkit.pipelines.extraction.synth import render_clip
    from atdkit.pipelines.statistics import motion

    root = args.out or Path(tempfile.mkdtemp(prefix="atdkit-demo-"))
    clip = root / "cartoon.mp4"
    console.rule("1. synthesise a cartoon clip")
    timeline = render_clip(clip)
    console.print(
        f"{clip}: {timeline.frame_count} frames, drawings held on twos and threes, cuts at frames {timeline.cuts}"
    )
    console.rule("2. extract triplets")
    report = run.extract([str(clip)], Dataset(root / "dataset"), {}, ExecutorChoice(), console)
    print_extraction(console, report)
    for row in report.triplets.slice(0, 5).to_pylist():
        console.print(
            f"  {row['triplet_id']}: frames {row['frames']}, "
            f"SSIM {row['ssim_12']:.3f} / {row['ssim_23']:.3f} / {row['ssim_13']:.3f}"
        )
    if report.failed:
        return 1
    console.rule("3. motion statistics and difficulty suggestions")
    stats = motion.compute_motion(report.dataset, console=console)
    print_motion(console, stats, motion.write_histograms(report.dataset, stats.table), None)
    console.rule("4. benchmark the weightless methods (no labels yet: Whole only)")
    console.print(
        "The synthetic shapes jump farther than their own size along curved paths, which no flow method can "
        "interpolate: expect low scores here, and blend to beat the flow-based dis-warp.",
        highlight=False,
    )
    print_scores(console, run_bench(report.dataset.root, weightless(), root / "bench", console=console))
    console.print(f"next: label the triplets with `atdkit annotate {report.dataset.root}`", highlight=False)
    return 0


COMMANDS = (Command("demo", "synthesise a cartoon clip and run the pipeline on it", demo_options, demo),)
