"""atdkit: one sub-command per step of films -> triplets -> labels -> split -> scores."""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Callable

from rich.console import Console
from rich.table import Table

from atdkit.sizes import parse_size
from atdkit.store import Dataset, DatasetBusyError


class UsageError(Exception):
    """Bad command-line input; the message is the one-line reason."""


def size_argument(text: str) -> tuple[int, int]:
    try:
        return parse_size(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def parse_intervals(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        values = ()
    if not values or any(v not in (0, 1, 2) for v in values):
        raise argparse.ArgumentTypeError(f"expected a comma-separated subset of 0,1,2, got {text!r}")
    return values


COMMANDS: dict[str, Callable[[argparse.Namespace, Console], int]] = {}


def command(name: str):
    """Register ``atdkit NAME``'s handler: ``handler(args, console) -> exit status``."""

    def register(handler):
        COMMANDS[name] = handler
        return handler

    return register


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="atdkit", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    extract = commands.add_parser("extract", help="decode films into candidate triplets (images + Parquet manifest)")
    source = extract.add_mutually_exclusive_group(required=True)
    source.add_argument("--videos", nargs="+", metavar="PATH", help="video files, folders or globs")
    source.add_argument("--refilter", metavar="DATASET_DIR", type=Path, help="re-apply thresholds to a dataset's cached SSIMs")
    extract.add_argument("--out", type=Path, help="dataset folder (required with --videos)")
    extract.add_argument("--intervals", type=parse_intervals, help="frames skipped inside a triplet (default 0,1,2)")
    extract.add_argument("--ssim-low", type=float, help="reject a triplet with a pair SSIM below this (default 0.75)")
    extract.add_argument("--ssim-high", type=float, help="reject a triplet with a pair SSIM above this (default 0.95)")
    extract.add_argument("--analysis-size", type=size_argument, help="box the luma is fitted into for SSIM (default 320x180)")
    extract.add_argument("--min-gap", type=int, help="frames between the starts of two kept triplets of a film (default 12)")
    extract.add_argument("--min-change", type=float, help="mean abs. luma change of the middle frame vs the last kept one (default 2.0)")
    extract.add_argument("--resize", type=size_argument, help="save frames at WxH instead of the source size")
    extract.add_argument("--series", help="series label for every film of this run")
    extract.add_argument("--series-map", type=Path, metavar="CSV", help="CSV with series and source_id or path columns")
    extract.add_argument("--backend", choices=("pyav", "opencv"), help="video decoding backend (default pyav)")
    extract.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="films processed in parallel (default: CPU count)")
    extract.add_argument("--dry-run", action="store_true", help="scan and write the tables, but no images")

    synth = commands.add_parser("synth", help="render a procedural cartoon clip with a known timeline")
    synth.add_argument("--out", type=Path, required=True, help="clip path (.mp4); the timeline is written beside it")
    synth.add_argument("--seed", type=int, default=0)
    synth.add_argument("--size", type=size_argument, default=(640, 360))
    synth.add_argument("--seconds", type=float, default=6.0)
    synth.add_argument("--fps", type=float, default=24.0)

    demo = commands.add_parser("demo", help="synthesise a cartoon clip and run the pipeline on it")
    demo.add_argument("--out", type=Path, help="folder for the clip and the dataset (default: a new temporary folder)")

    # --- annotate, consolidate, export, import (annotation)

    # --- stats, split, report (dataset statistics)

    # --- bench (benchmark)

    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    console = Console(stderr=True)
    if not console.is_terminal:
        console.width = max(console.width, 140)  # logs and CI: keep the summary table readable
    try:
        return COMMANDS[args.command](args, console)
    except (UsageError, DatasetBusyError) as error:
        console.print(f"[red]atdkit {args.command}: error:[/] {error}", highlight=False)
        return 2
    except KeyboardInterrupt:
        console.print(f"[yellow]atdkit {args.command}: interrupted[/]; run the same command again to resume")
        return 130


@command("extract")
def cmd_extract(args, console: Console) -> int:
    from pipelines import run

    if args.videos and not args.out:
        raise UsageError("--out DATASET_DIR is required with --videos")
    if args.refilter and args.out:
        raise UsageError("--refilter rewrites DATASET_DIR in place: leave out --out")
    options = {
        "intervals": args.intervals, "ssim_low": args.ssim_low, "ssim_high": args.ssim_high,
        "analysis_size": args.analysis_size, "min_gap": args.min_gap, "min_change": args.min_change,
        "resize": args.resize, "backend": args.backend, "dry_run": args.dry_run,
    }
    try:
        if args.refilter:
            report = run.refilter(Dataset(args.refilter), options, args.workers, console)
        else:
            report = run.extract(args.videos, Dataset(args.out), options, args.workers, console, args.series, args.series_map)
    except (ValueError, run.InputError) as error:
        raise UsageError(str(error)) from None
    print_summary(console, report)
    return 1 if report.failed else 0


@command("synth")
def cmd_synth(args, console: Console) -> int:
    from pipelines.synth import render_clip

    try:
        timeline = render_clip(args.out, seed=args.seed, size=args.size, seconds=args.seconds, fps=args.fps)
    except (ValueError, RuntimeError) as error:
        raise UsageError(str(error)) from None
    console.print(
        f"wrote {args.out} ({timeline.frame_count} frames, {timeline.width}x{timeline.height}, "
        f"cuts at {timeline.cuts}) and its timeline {args.out.with_suffix('.timeline.json')}"
    )
    return 0


@command("demo")
def cmd_demo(args, console: Console) -> int:
    from pipelines import run
    from pipelines.synth import render_clip

    root = args.out or Path(tempfile.mkdtemp(prefix="atdkit-demo-"))
    clip = root / "cartoon.mp4"
    console.rule("1. synthesise a cartoon clip")
    timeline = render_clip(clip)
    console.print(f"{clip}: {timeline.frame_count} frames, drawings held on twos and threes, cuts at frames {timeline.cuts}")
    console.rule("2. extract triplets")
    report = run.extract([str(clip)], Dataset(root / "dataset"), {}, 1, console)
    print_summary(console, report)
    for row in report.triplets.slice(0, 5).to_pylist():
        console.print(f"  {row['triplet_id']}: frames {row['frames']}, SSIM {row['ssim_12']:.3f} / {row['ssim_23']:.3f} / {row['ssim_13']:.3f}")
    return 1 if report.failed else 0


def print_summary(console: Console, report) -> None:
    table = Table(title="extraction summary", title_justify="left")
    for column in ("film", "status", "frames", "candidates", "kept", "too similar", "too different", "redundant", "frames/s"):
        table.add_column(column, justify="left" if column in ("film", "status") else "right")
    for row in report.sources:
        speed = row["frame_count"] / row["scan_seconds"] if row["frame_count"] and row["scan_seconds"] else 0
        style = {"ok": "green", "partial": "yellow"}.get(row["status"], "red")
        table.add_row(
            row["source_id"], f"[{style}]{row['status']}[/]", *(str(row[k] or 0) for k in (
                "frame_count", "candidates", "kept", "rejected_too_similar", "rejected_too_different", "rejected_redundant")),
            f"{speed:,.0f}",
        )
    console.print(table)
    for row in report.sources:
        if row["error"]:
            label = "error" if row["status"] == "failed" else "warning"
            console.print(f"{label}: {row['path']}: {row['error']}", style="red" if label == "error" else "yellow", highlight=False)
    for line in report.input_errors:
        console.print(f"error: {line}", style="red", highlight=False)
    console.print(
        f"{report.triplets.num_rows} triplets from {len(report.all_sources)} film(s) in {report.dataset.root} "
        f"(triplets.parquet, sources.parquet, frames/)", highlight=False,
    )


def entry_point() -> None:
    sys.exit(main())
