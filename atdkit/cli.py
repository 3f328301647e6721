"""atdkit: one sub-command per step of films -> triplets -> labels -> split -> scores."""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Callable

from rich.console import Console
from rich.markup import escape
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
    executor_arguments(extract, "films")
    extract.add_argument("--split-frames", type=int, metavar="N", help="scan a film longer than N frames in ranges of N frames, in parallel")

    synth = commands.add_parser("synth", help="render a procedural cartoon clip with a known timeline")
    synth.add_argument("--out", type=Path, required=True, help="clip path (.mp4); the timeline is written beside it")
    synth.add_argument("--seed", type=int, default=0)
    synth.add_argument("--size", type=size_argument, default=(640, 360))
    synth.add_argument("--seconds", type=float, default=6.0)
    synth.add_argument("--fps", type=float, default=24.0)

    demo = commands.add_parser("demo", help="synthesise a cartoon clip and run the pipeline on it")
    demo.add_argument("--out", type=Path, help="folder for the clip and the dataset (default: a new temporary folder)")

    # --- annotate, consolidate, export, import (annotation)
    annotate = commands.add_parser("annotate", help="start the labelling app (Streamlit) on a dataset")
    annotate.add_argument("dataset", type=Path, metavar="DATASET_DIR")
    annotate.add_argument("--port", type=int, default=8501, help="port to serve on (default 8501)")
    annotate.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    annotate.add_argument("--annotators", help="comma-separated names allowed to label (default: any)")
    annotate.add_argument("--labels-per-triplet", type=int, default=2, help="independent labels each triplet gets (default 2)")

    annotations_cmd = commands.add_parser("annotations", help="maintain the annotation parts of a dataset")
    annotations_action = annotations_cmd.add_subparsers(dest="action", required=True)
    compact = annotations_action.add_parser("compact", help="merge each person's parts into one, keeping every row")
    compact.add_argument("dataset", type=Path, metavar="DATASET_DIR")

    consolidate = commands.add_parser("consolidate", help="annotators' labels -> labels.parquet, with an agreement report")
    consolidate.add_argument("dataset", type=Path, metavar="DATASET_DIR")

    export = commands.add_parser("export", help="write kept, labelled triplets in another layout")
    export_format = export.add_subparsers(dest="format", required=True)
    export_atd = export_format.add_parser("atd12k", help="the official ATD-12K test layout and JSON")
    export_atd.add_argument("dataset", type=Path, metavar="DATASET_DIR")
    export_atd.add_argument("out", type=Path, metavar="OUT_DIR")
    export_atd.add_argument("--coco", type=Path, metavar="FILE", help="also write the RoI boxes as COCO JSON")

    import_cmd = commands.add_parser("import", help="read a dataset in another layout into atdkit's tables")
    import_format = import_cmd.add_subparsers(dest="format", required=True)
    import_atd = import_format.add_parser("atd12k", help="the official ATD-12K layout (test set with labels, train set)")
    import_atd.add_argument("atd", type=Path, metavar="ATD_DIR")
    import_atd.add_argument("dataset", type=Path, metavar="DATASET_DIR")
    import_atd.add_argument("--subsets", default="test,train", help="which parts to import: test, train or both (default test,train)")

    # --- stats, split, report (dataset statistics)
    stats = commands.add_parser("stats", help="optical-flow statistics, histograms and a difficulty suggestion per triplet")
    stats.add_argument("dataset", type=Path, metavar="DATASET_DIR")
    stats.add_argument("--flow", default="dis", help="flow estimator (default dis: OpenCV's DIS)")
    stats.add_argument("--flow-size", type=size_argument, default=(960, 540), metavar="WxH",
                       help="box frames are fitted into for the flow (default 960x540)")
    stats.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="triplets measured in parallel (default: CPU count)")
    executor_arguments(stats, "chunks of triplets")
    stats.add_argument("--compare", type=Path, metavar="OTHER_DATASET_DIR", help="overlay another dataset's motion on the histograms")
    stats.add_argument("--calibrate", action="store_true", help="fit the difficulty thresholds to the human difficulties in labels.parquet")

    split = commands.add_parser("split", help="source-exclusive train/test split, stratified by difficulty")
    split.add_argument("dataset", type=Path, metavar="DATASET_DIR")
    split.add_argument("--by", choices=("source", "series"), default="source", help="what no two sides may share (default source)")
    split.add_argument("--test-fraction", type=float, default=0.2, help="share of triplets in the test set (default 0.2)")
    split.add_argument("--seed", type=int, default=0)

    report = commands.add_parser("report", help="one self-contained HTML page describing the dataset")
    report.add_argument("dataset", type=Path, metavar="DATASET_DIR")
    report.add_argument("--out", type=Path, help="HTML file (default DATASET_DIR/report.html)")
    report.add_argument("--samples", type=int, default=4, help="sample triplets shown per difficulty (default 4)")

    # --- bench (benchmark)
    bench = commands.add_parser("bench", help="score interpolation methods on a test set, like the paper's Table 1")
    bench.add_argument("--data", type=Path, metavar="DATA", help="ATD-12K test layout folder or atdkit dataset")
    bench.add_argument("--methods", nargs="+", metavar="NAME", help="methods to score (see --list)")
    bench.add_argument("--out", type=Path, metavar="RESULTS_DIR", help="results folder")
    bench.add_argument("--list", action="store_true", help="list the methods and the state of their weight files")
    bench.add_argument("--device", choices=("auto", "cuda", "cpu"), default="auto", help="default: cuda when available")
    bench.add_argument("--weights", nargs="+", type=weights_argument, default=[], metavar="NAME=PATH", help="weight files of the methods")
    bench.add_argument("--profile", choices=("atd12k", "standard"), default="atd12k", help="metric profile (default atd12k: the paper's)")
    bench.add_argument("--size", type=size_argument, metavar="WxH",
                       help="score at this size instead of the profile's 960x540 (e.g. a quick run; recorded in run.json)")
    bench.add_argument("--split", help="atdkit datasets: test (default when splits.parquet exists), train or all")
    bench.add_argument("--resume", action="store_true", help="add to RESULTS_DIR, skipping triplets already scored")
    bench.add_argument("--save-frames", action="store_true", help="keep predictions in RESULTS_DIR/frames/<method>/")
    bench.add_argument("--fp16", action="store_true", help="half-precision autocast on the GPU (recorded in run.json)")
    bench.add_argument("--workers", type=int, help="threads reading frames ahead (default: CPU count, at most 4)")
    bench.add_argument("--sgm", choices=("compute", "precomputed"), default="compute",
                       help="AnimeInterp's SGM flows: computed from the frames (default) or the data's precomputed ones")
    bench.add_argument("--sgm-style", choices=("auto", "japan", "western"), default="auto",
                       help="SGM line style (default auto: per triplet, western for Disney triplets as the official scripts)")
    bench.add_argument("--sgm-cache", type=Path, metavar="DIR",
                       help="keep computed SGM flows in DIR and read them back for the same frames (other methods, runs, checkpoints)")

    # --- interpolate (AnimeInterp)
    interpolate = commands.add_parser("interpolate", help="the middle frame of two frames with a benchmark method")
    interpolate.add_argument("frames", nargs=2, type=Path, metavar="FRAME", help="the first and the last frame")
    interpolate.add_argument("--method", required=True, help="a method of atdkit bench --list, e.g. animeinterp")
    interpolate.add_argument("--out", type=Path, required=True, help="image file for the middle frame (.png)")
    interpolate.add_argument("--weights", nargs="+", type=weights_argument, default=[], metavar="NAME=PATH", help="weight files of the method")
    interpolate.add_argument("--flows", type=Path, metavar="DIR", help="folder with precomputed SGM flows guide_flo13.npy, guide_flo31.npy")
    interpolate.add_argument("--device", choices=("auto", "cuda", "cpu"), default="auto", help="default: cuda when available")
    interpolate.add_argument("--sgm-style", choices=("auto", "japan", "western"), default="auto",
                             help="SGM line style (default auto: western when the frames' folder name has Disney in it)")

    # --- train (benchmark)
    train = commands.add_parser("train", help="train or fine-tune a method's network on an atdkit dataset (paper, section 4.4)")
    train.add_argument("--method", required=True, help="a trainable method (an unknown name lists them)")
    train.add_argument("--data", type=Path, required=True, metavar="DATASET_DIR", help="atdkit dataset (its train split when split)")
    train.add_argument("--out", type=Path, required=True, metavar="RUN_DIR", help="run folder: last.pt, best.pt, history.csv, training.png")
    train.add_argument("--weights", nargs="+", type=weights_argument, default=[], metavar="NAME=PATH",
                       help="starting weights (the method's own file: fine-tuning) and SGM's vgg19")
    length = train.add_mutually_exclusive_group()
    length.add_argument("--steps", type=int, help="train until this many steps")
    length.add_argument("--epochs", type=int, help="train until this many epochs (default 50, the paper's fine-tuning)")
    train.add_argument("--resume", action="store_true", help="continue the run in RUN_DIR from its last.pt")
    train.add_argument("--size", type=size_argument, default=(960, 540), metavar="WxH", help="frames are rescaled to this (default 960x540)")
    train.add_argument("--crop", type=int, default=380, help="side of the random square crops (default 380)")
    train.add_argument("--batch-size", type=int, default=16, help="triplets per step, over all GPUs (default 16)")
    train.add_argument("--accumulate", type=int, default=1, metavar="N",
                       help="run each step in N micro-batches, gradients accumulated: the same step in less memory (default 1)")
    train.add_argument("--lr", type=float, help="learning rate (default 1e-4 from scratch, 1e-6 fine-tuning)")
    train.add_argument("--schedule", default="constant",
                       help="constant (default), step:EPOCHS:GAMMA, multistep:E1,E2,...:GAMMA or cosine")
    train.add_argument("--val-fraction", type=float, default=0.1, help="share of the triplets held out, by source (default 0.1)")
    train.add_argument("--save-every", type=int, default=500, help="steps between saves of last.pt (default 500; and each epoch)")
    train.add_argument("--no-sgm", action="store_true", help="feed zero flows instead of SGM flows (no VGG-19 needed)")
    train.add_argument("--no-amp", action="store_true", help="fp32 on the GPU too (default: fp16 autocast on CUDA)")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--workers", type=int, default=min(4, os.cpu_count() or 1), help="data-loading processes (default: CPU count, at most 4)")
    train.add_argument("--device", choices=("auto", "cuda", "cpu"), default="auto", help="default: cuda when available")

    return parser


def executor_arguments(parser: argparse.ArgumentParser, units: str) -> None:
    parser.add_argument("--executor", choices=("local", "ray"), default="local",
                        help=f"where {units} are processed: local (a process pool here, default) or ray (a Ray cluster)")
    parser.add_argument("--ray-address", metavar="ADDR", help="the Ray cluster to run on (default: $RAY_ADDRESS, "
                        "else a Ray instance started here with --workers CPUs); needs --executor ray")


def executor_choice(args):
    """The executor ``args`` ask for; a usage error for options that do not go together."""
    from pipelines.executors import ExecutorChoice

    if args.workers < 1:
        raise UsageError("--workers must be at least 1")
    if args.ray_address and args.executor != "ray":
        raise UsageError("--ray-address needs --executor ray")
    return ExecutorChoice(args.executor, args.workers, args.ray_address)


def print_nodes(console: Console, nodes, unit: str) -> None:
    """The per-node summary of a run on a Ray cluster."""
    if nodes.nodes:
        console.print(nodes.table(unit))


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    console = Console(stderr=True)
    if not console.is_terminal:
        console.width = max(console.width, 140)  # logs and CI: keep the summary table readable
    try:
        return COMMANDS[args.command](args, console)
    except (UsageError, DatasetBusyError) as error:
        console.print(f"[red]atdkit {args.command}: error:[/] {escape(str(error))}", highlight=False, soft_wrap=True)
        return 2
    except KeyboardInterrupt:
        console.print(f"[yellow]atdkit {args.command}: interrupted[/]; run the same command again to resume")
        return 130


@command("extract")
def cmd_extract(args, console: Console) -> int:
    from pipelines import run
    from pipelines.executors import ExecutorError

    if args.videos and not args.out:
        raise UsageError("--out DATASET_DIR is required with --videos")
    if args.refilter and args.out:
        raise UsageError("--refilter rewrites DATASET_DIR in place: leave out --out")
    if args.split_frames is not None and args.split_frames < 1:
        raise UsageError("--split-frames must be at least 1")
    executor = executor_choice(args)
    options = {
        "intervals": args.intervals, "ssim_low": args.ssim_low, "ssim_high": args.ssim_high,
        "analysis_size": args.analysis_size, "min_gap": args.min_gap, "min_change": args.min_change,
        "resize": args.resize, "backend": args.backend, "dry_run": args.dry_run, "split_frames": args.split_frames,
    }
    try:
        if args.refilter:
            report = run.refilter(Dataset(args.refilter), options, executor, console)
        else:
            report = run.extract(args.videos, Dataset(args.out), options, executor, console, args.series, args.series_map)
    except (ValueError, run.InputError, ExecutorError) as error:
        raise UsageError(str(error)) from None
    print_summary(console, report)
    if executor.kind == "ray":
        print_nodes(console, report.nodes, "frames")
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
    from pipelines.executors import ExecutorChoice
    from pipelines.synth import render_clip

    root = args.out or Path(tempfile.mkdtemp(prefix="atdkit-demo-"))
    clip = root / "cartoon.mp4"
    console.rule("1. synthesise a cartoon clip")
    timeline = render_clip(clip)
    console.print(f"{clip}: {timeline.frame_count} frames, drawings held on twos and threes, cuts at frames {timeline.cuts}")
    console.rule("2. extract triplets")
    report = run.extract([str(clip)], Dataset(root / "dataset"), {}, ExecutorChoice(), console)
    print_summary(console, report)
    for row in report.triplets.slice(0, 5).to_pylist():
        console.print(f"  {row['triplet_id']}: frames {row['frames']}, SSIM {row['ssim_12']:.3f} / {row['ssim_23']:.3f} / {row['ssim_13']:.3f}")
    if report.failed:
        return 1
    from benchmark.harness import print_summary as print_bench_summary, run_bench
    from benchmark.methods import weightless
    from pipelines import motion, summaries

    console.rule("3. motion statistics and difficulty suggestions")
    stats = motion.compute_motion(report.dataset, console=console)
    summaries.print_motion(console, stats, motion.write_histograms(report.dataset, stats.table), None)
    console.rule("4. benchmark the weightless methods (no labels yet: Whole only)")
    console.print("The synthetic shapes jump farther than their own size along curved paths, which no flow method can "
                  "interpolate: expect low scores here, and blend to beat the flow-based dis-warp.", highlight=False)
    bench = run_bench(report.dataset.root, weightless(), root / "bench", console=console)
    print_bench_summary(console, bench)
    console.print(f"next: label the triplets with `atdkit annotate {report.dataset.root}`", highlight=False)
    return 0


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
            console.print(f"{label}: {row['path']}: {row['error']}", style="red" if label == "error" else "yellow", highlight=False, soft_wrap=True)
    for line in report.input_errors:
        console.print(f"error: {line}", style="red", highlight=False, soft_wrap=True)
    console.print(
        f"{report.triplets.num_rows} triplets from {len(report.all_sources)} film(s) in {report.dataset.root} "
        f"(triplets.parquet, sources.parquet, frames/)", highlight=False,
    )


# --- stats, split, report (dataset statistics)


@command("stats")
def cmd_stats(args, console: Console) -> int:
    from pipelines import motion, summaries
    from pipelines.executors import ExecutorError
    from pipelines.tables import DatasetError

    dataset = Dataset(args.dataset)
    executor = executor_choice(args)
    try:
        if args.compare:
            motion.read_motion(Dataset(args.compare), required=True)
        if args.calibrate and not (args.dataset / "labels.parquet").is_file():
            raise UsageError(f"{args.dataset / 'labels.parquet'}: no such file (--calibrate fits the thresholds to human labels)")
        report = motion.compute_motion(dataset, args.flow, args.flow_size, executor, console)
        histograms = motion.write_histograms(dataset, report.table, Dataset(args.compare) if args.compare else None)
        calibration = motion.calibrate_dataset(dataset) if args.calibrate else None
        agreement = motion.suggestion_agreement(dataset, calibration.table if calibration else report.table)
    except (ValueError, DatasetError, ExecutorError) as error:
        raise UsageError(str(error)) from None
    summaries.print_motion(console, report, histograms, None if calibration else agreement)
    if executor.kind == "ray":
        print_nodes(console, report.nodes, "triplets")
    if calibration:
        summaries.print_calibration(console, calibration, motion.thresholds_path(dataset))
    return 1 if report.errors else 0


@command("split")
def cmd_split(args, console: Console) -> int:
    from pipelines import split, summaries
    from pipelines.tables import DatasetError, read_dataset_table

    dataset = Dataset(args.dataset)
    settings = split.SplitSettings(args.by, args.test_fraction, args.seed)
    try:
        table = split.split_dataset(dataset, settings)
        sides = split.summarise(read_dataset_table(dataset, "triplets"), table, read_dataset_table(dataset, "labels"), args.by)
    except (split.SplitError, DatasetError) as error:
        raise UsageError(str(error)) from None
    summaries.print_split(console, sides, settings)
    console.print(f"wrote {args.dataset / 'splits.parquet'}", highlight=False)
    return 0


@command("report")
def cmd_report(args, console: Console) -> int:
    from pipelines import report
    from pipelines.tables import DatasetError

    if args.samples < 0:
        raise UsageError("--samples must be at least 0")
    try:
        path = report.write_report(Dataset(args.dataset), args.out, args.samples)
    except DatasetError as error:
        raise UsageError(str(error)) from None
    console.print(f"wrote {path}", highlight=False)
    return 0


@command("annotate")
def cmd_annotate(args, console: Console) -> int:
    import subprocess

    import annotation_ui
    from annotation_ui.settings import SettingsError, parse

    app_args = ["--dataset", str(args.dataset), "--labels-per-triplet", str(args.labels_per_triplet)]
    app_args += ["--annotators", args.annotators] if args.annotators else []
    try:
        parse(app_args)
    except SettingsError as error:
        raise UsageError(str(error)) from None
    app = Path(annotation_ui.__file__).with_name("streamlit_app.py")
    console.print(f"annotation app for {args.dataset}: http://{args.host}:{args.port}/  (Ctrl+C stops it)", highlight=False)
    return subprocess.call([
        sys.executable, "-m", "streamlit", "run", str(app), "--server.address", args.host, "--server.port", str(args.port),
        "--server.headless", "true", "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none", "--", *app_args,
    ])


def _labelled_dataset(root: Path) -> Dataset:
    dataset = Dataset(root)
    if not dataset.triplets_path.exists():
        raise UsageError(f"{root}: not an atdkit dataset (no triplets.parquet)")
    return dataset


def _print_lines(console: Console, problems: list[str], notes: list[str] = ()) -> None:
    for line in notes:
        console.print(f"note: {line}", style="yellow", highlight=False, soft_wrap=True)
    for line in problems:
        console.print(f"error: {line}", style="red", highlight=False, soft_wrap=True)


@command("annotations")
def cmd_annotations(args, console: Console) -> int:
    from pipelines.annotations import compact

    dataset = _labelled_dataset(args.dataset)
    result = compact(dataset.root)
    _print_lines(console, result.errors)
    console.print(f"merged {result.merged} part(s) into {result.written} ({result.rows} rows) in {dataset.root}", highlight=False)
    return 1 if result.errors else 0


@command("consolidate")
def cmd_consolidate(args, console: Console) -> int:
    import math

    from pipelines.consolidate import consolidate, labels_path

    dataset = _labelled_dataset(args.dataset)
    result = consolidate(dataset)
    table = Table(title="agreement per annotator pair", title_justify="left")
    for column in ("pair", "shared", "eligibility kappa", "rated by both", "difficulty kappa (quadratic)", "boxes by both",
                   "mean IoU", "IoU >= 0.5"):
        table.add_column(column, justify="left" if column == "pair" else "right")

    def figure(value: float, text: str = "{:.3f}") -> str:
        return "n/a" if math.isnan(value) else text.format(value)

    for pair in result.agreement:
        table.add_row(f"{pair.first} / {pair.second}", str(pair.shared), figure(pair.eligibility_kappa), str(pair.difficulty_pairs),
                      figure(pair.difficulty_kappa), str(pair.roi_pairs), figure(pair.mean_iou), figure(pair.share_iou_agreed, "{:.0%}"))
    if result.agreement:
        console.print(table)
    _print_lines(console, result.errors)
    rows = result.labels.to_pylist()
    console.print(
        f"{labels_path(dataset)}: {len(rows)} labelled triplet(s), {sum(r['kept'] for r in rows)} kept (eligible by at least two), "
        f"{sum(r['needs_review'] for r in rows)} need review", highlight=False,
    )
    return 1 if result.errors else 0


@command("export")
def cmd_export(args, console: Console) -> int:
    from pipelines import atd12k

    dataset = _labelled_dataset(args.dataset)
    try:
        report = atd12k.export(dataset, args.out, args.coco)
    except FileNotFoundError as error:
        raise UsageError(str(error)) from None
    _print_lines(console, report.problems, report.notes)
    coco = f", COCO boxes in {args.coco}" if args.coco else ""
    console.print(f"exported {report.written + report.skipped} triplet(s) to {args.out} "
                  f"({report.written} written, {report.skipped} already there){coco}", highlight=False)
    return 1 if report.problems else 0


@command("import")
def cmd_import(args, console: Console) -> int:
    from pipelines import atd12k

    subsets = tuple(s.strip() for s in args.subsets.split(",") if s.strip())
    if not subsets or set(subsets) - set(atd12k.SUBSETS):
        raise UsageError(f"--subsets: expected test, train or test,train, got {args.subsets!r}")
    try:
        report = atd12k.import_atd12k(args.atd, Dataset(args.dataset), subsets)
    except (FileNotFoundError, ValueError) as error:
        raise UsageError(str(error)) from None
    _print_lines(console, report.problems, report.notes)
    console.print(f"imported {report.written + report.skipped} triplet(s) into {args.dataset} "
                  f"({report.written} written, {report.skipped} already there); labels in labels.parquet", highlight=False)
    return 1 if report.problems else 0


# --- bench (benchmark)


def weights_argument(text: str) -> tuple[str, Path]:
    key, sep, path = text.partition("=")
    if not sep or not key or not path:
        raise argparse.ArgumentTypeError(f"expected NAME=PATH, got {text!r}")
    return key, Path(path)


@command("bench")
def cmd_bench(args, console: Console) -> int:
    from benchmark import methods
    from benchmark.harness import BenchError, print_summary, run_bench

    given = dict(args.weights)
    if args.list:
        table = Table(title="interpolation methods", title_justify="left")
        for column in ("method", "what it does", "flows", "padding", "GPU", "weights"):
            table.add_column(column)
        for method in methods.available().values():
            table.add_row(method.name, method.summary, method.flows, method.fit.describe() if method.fit else "none",
                          "needed" if method.needs_gpu else "optional", methods.weight_status(method, given))
        console.print(table)
        return 0
    missing = [flag for flag, value in (("--data", args.data), ("--methods", args.methods), ("--out", args.out)) if not value]
    if missing:
        raise UsageError(f"{', '.join(missing)} required (or --list)")
    if args.workers is not None and args.workers < 1:
        raise UsageError("--workers must be at least 1")
    try:
        report = run_bench(
            args.data, args.methods, args.out, profile=args.profile, size=args.size, device=args.device, weights=given, split=args.split,
            resume=args.resume, save_frames=args.save_frames, fp16=args.fp16, workers=args.workers, console=console,
            options={"sgm": args.sgm, "sgm_style": args.sgm_style, "sgm_cache": args.sgm_cache},
            command=" ".join(["atdkit", *sys.argv[1:]]),
        )
    except BenchError as error:
        raise UsageError(str(error)) from None
    print_summary(console, report)
    return 1 if report.failed else 0


# --- interpolate (AnimeInterp)


@command("interpolate")
def cmd_interpolate(args, console: Console) -> int:
    from benchmark.harness import BenchError
    from benchmark.interpolate import interpolate_pair
    from benchmark.methods import MethodError
    from benchmark.methods.animeinterp.sgm.guide_files import GuideFlowError

    try:
        out, seconds = interpolate_pair(args.method, *args.frames, args.out, dict(args.weights), args.device, args.flows, args.sgm_style)
    except (MethodError, BenchError, GuideFlowError, ValueError) as error:
        raise UsageError(str(error)) from None
    console.print(f"wrote {out} ({args.method}, {seconds:.1f} s)", highlight=False)
    return 0


# --- train (benchmark)


@command("train")
def cmd_train(args, console: Console) -> int:
    from benchmark.training import TrainError, TrainSettings, print_summary, train

    settings = TrainSettings(
        size=args.size, crop=args.crop, batch_size=args.batch_size, accumulate=args.accumulate, lr=args.lr, schedule=args.schedule, steps=args.steps,
        epochs=args.epochs, val_fraction=args.val_fraction, save_every=args.save_every, sgm=not args.no_sgm,
        amp=not args.no_amp, seed=args.seed, workers=args.workers, device=args.device,
    )
    try:
        report = train(args.method, args.data, args.out, settings, weights=dict(args.weights), resume=args.resume, console=console)
    except TrainError as error:
        raise UsageError(str(error)) from None
    except KeyboardInterrupt:
        console.print(f"[yellow]atdkit train: interrupted[/]; continue with the same command and --resume (from {args.out / 'last.pt'})")
        return 130
    print_summary(console, report)
    return 0


def entry_point() -> None:
    sys.exit(main())
