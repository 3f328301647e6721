"""Films → triplets: ``atdkit extract`` (and ``--refilter``) and ``atdkit synth``."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.table import Table

from atdkit.cli.common import Command, UsageError, add_executor, executor_choice, print_nodes, size_argument
from atdkit.store import Dataset


def intervals_argument(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        values = ()
    if not values or any(v not in (0, 1, 2) for v in values):
        raise argparse.ArgumentTypeError(f"expected a comma-separated subset of 0,1,2, got {text!r}")
    return values


def extract_options(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--videos", nargs="+", metavar="PATH", help="video files, folders or globs")
    source.add_argument(
        "--refilter", metavar="DATASET_DIR", type=Path, help="re-apply thresholds to a dataset's cached SSIMs"
    )
    parser.add_argument("--out", type=Path, help="dataset folder (required with --videos)")
    parser.add_argument("--intervals", type=intervals_argument, help="frames skipped inside a triplet (default 0,1,2)")
    parser.add_argument("--ssim-low", type=float, help="reject a triplet with a pair SSIM below this (default 0.75)")
    parser.add_argument("--ssim-high", type=float, help="reject a triplet with a pair SSIM above this (default 0.95)")
    parser.add_argument(
        "--analysis-size", type=size_argument, help="box the luma is fitted into for SSIM (default 320x180)"
    )
    parser.add_argument(
        "--min-gap", type=int, help="frames between the starts of two kept triplets of a film (default 12)"
    )
    parser.add_argument(
        "--min-change", type=float, help="mean abs. luma change of the middle frame vs the last kept one (default 2.0)"
    )
    parser.add_argument("--resize", type=size_argument, help="save frames at WxH instead of the source size")
    parser.add_argument("--series", help="series label for every film of this run")
    parser.add_argument("--series-map", type=Path, metavar="CSV", help="CSV with series and source_id or path columns")
    parser.add_argument("--backend", choices=("pyav", "opencv"), help="video decoding backend (default pyav)")
    parser.add_argument("--dry-run", action="store_true", help="scan and write the tables, but no images")
    add_executor(parser, "films")
    parser.add_argument(
        "--split-frames",
        type=int,
        metavar="N",
        help="scan a film longer than N frames in ranges of N frames, in parallel",
    )


def extract(args: argparse.Namespace, console: Console) -> int:
    from atdkit.pipelines.executors import ExecutorError
    from atdkit.pipelines.extraction import run

    if args.videos and not args.out:
        raise UsageError("--out DATASET_DIR is required with --videos")
    if args.refilter and args.out:
        raise UsageError("--refilter rewrites DATASET_DIR in place: leave out --out")
    if args.split_frames is not None and args.split_frames < 1:
        raise UsageError("--split-frames must be at least 1")
    executor = executor_choice(args)
    options = {
        "intervals": args.intervals,
        "ssim_low": args.ssim_low,
        "ssim_high": args.ssim_high,
        "analysis_size": args.analysis_size,
        "min_gap": args.min_gap,
        "min_change": args.min_change,
        "resize": args.resize,
        "backend": args.backend,
        "dry_run": args.dry_run,
        "split_frames": args.split_frames,
    }
    try:
        if args.refilter:
            report = run.refilter(Dataset(args.refilter), options, executor, console)
        else:
            report = run.extract(
                args.videos, Dataset(args.out), options, executor, console, args.series, args.series_map
            )
    except (ValueError, run.InputError, ExecutorError) as error:
        raise UsageError(str(error)) from None
    print_extraction(console, report)
    if executor.kind == "ray":
        print_nodes(console, report.nodes, "frames")
    return 1 if report.failed else 0


def print_extraction(console: Console, report) -> None:
    """Per film: frames, candidates and why they were rejected; then each film's error and the input errors."""
    table = Table(title="extraction summary", title_justify="left")
    for column in (
        "film",
        "status",
        "frames",
        "candidates",
        "kept",
        "too similar",
        "too different",
        "redundant",
        "frames/s",
    ):
        table.add_column(column, justify="left" if column in ("film", "status") else "right")
    for row in report.sources:
        speed = row["frame_count"] / row["scan_seconds"] if row["frame_count"] and row["scan_seconds"] else 0
        style = {"ok": "green", "partial": "yellow"}.get(row["status"], "red")
        counts = (
            "frame_count",
            "candidates",
            "kept",
            "rejected_too_similar",
            "rejected_too_different",
            "rejected_redundant",
        )
        table.add_row(
            row["source_id"], f"[{style}]{row['status']}[/]", *(str(row[k] or 0) for k in counts), f"{speed:,.0f}"
        )
    console.print(table)
    for row in report.sources:
        if row["error"]:
            label = "error" if row["status"] == "failed" else "warning"
            console.print(
                f"{label}: {row['path']}: {row['error']}",
                style="red" if label == "error" else "yellow",
                highlight=False,
                soft_wrap=True,
            )
    for line in report.input_errors:
        console.print(f"error: {line}", style="red", highlight=False, soft_wrap=True)
    console.print(
        f"{report.triplets.num_rows} triplets from {len(report.all_sources)} film(s) in {report.dataset.root} "
        f"(triplets.parquet, sources.parquet, frames/)",
        highlight=False,
    )


def synth_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, required=True, help="clip path (.mp4); the timeline is written beside it")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--size", type=size_argument, default=(640, 360))
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--fps", type=float, default=24.0)


def synth(args: argparse.Namespace, console: Console) -> int:
    from atdkit.pipelines.extraction.synth import render_clip

    try:
        timeline = render_clip(args.out, seed=args.seed, size=args.size, seconds=args.seconds, fps=args.fps)
    except (ValueError, RuntimeError) as error:
        raise UsageError(str(error)) from None
    console.print(
        f"wrote {args.out} ({timeline.frame_count} frames, {timeline.width}x{timeline.height}, "
        f"cuts at {timeline.cuts}) and its timeline {args.out.with_suffix('.timeline.json')}"
    )
    return 0


COMMANDS = (
    Command("extract", "decode films into candidate triplets (images + Parquet manifest)", extract_options, extract),
    Command("synth", "render a procedural cartoon clip with a known timeline", synth_options, synth),
)
