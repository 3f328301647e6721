"""What a dataset holds: ``atdkit stats``, ``atdkit split`` and ``atdkit report``."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from atdkit import schema
from atdkit.cli.common import Command, UsageError, add_executor, executor_choice, print_nodes, size_argument
from atdkit.store import Dataset, DatasetError


def stats_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dataset", type=Path, metavar="DATASET_DIR")
    parser.add_argument("--flow", default="dis", help="flow estimator (default dis: OpenCV's DIS)")
    parser.add_argument(
        "--flow-size",
        type=size_argument,
        default=(960, 540),
        metavar="WxH",
        help="box frames are fitted into for the flow (default 960x540)",
    )
    add_executor(parser, "chunks of triplets")
    parser.add_argument(
        "--compare", type=Path, metavar="OTHER_DATASET_DIR", help="overlay another dataset's motion on the histograms"
    )
    parser.add_argument(
        "--calibrate",
        action="store_true",
        help="fit the difficulty thresholds to the human difficulties in labels.parquet",
    )


def stats(args: argparse.Namespace, console: Console) -> int:
    from atdkit.pipelines.executors import ExecutorError
    from atdkit.pipelines.statistics import motion

    dataset = Dataset(args.dataset)
    executor = executor_choice(args)
    try:
        if args.compare:
            Dataset(args.compare).read("motion", required=True)
        if args.calibrate and not dataset.has("labels"):
            raise UsageError(
                f"{dataset.table_path('labels')}: no such file (--calibrate fits the thresholds to human labels)"
            )
        report = motion.compute_motion(dataset, args.flow, args.flow_size, executor, console)
        histograms = motion.write_histograms(dataset, report.table, Dataset(args.compare) if args.compare else None)
        calibration = motion.calibrate_dataset(dataset) if args.calibrate else None
        agreement = motion.suggestion_agreement(dataset, calibration.table if calibration else report.table)
    except (ValueError, DatasetError, ExecutorError) as error:
        raise UsageError(str(error)) from None
    print_motion(console, report, histograms, None if calibration else agreement)
    if executor.kind == "ray":
        print_nodes(console, report.nodes, "triplets")
    if calibration:
        print_calibration(console, calibration, motion.thresholds_path(dataset))
    return 1 if report.errors else 0


def print_motion(console: Console, report, histograms: Path, agreement) -> None:
    """What ``stats`` measured: percentiles of the statistics, the suggested difficulties, the agreement with humans."""
    table = report.table
    measured = (
        f"measured {report.measured} triplet(s) in {report.seconds:.1f} s ({report.rate:.1f} triplets/s)"
        if report.measured
        else "nothing new to measure"
    )
    console.print(
        f"{measured}, {report.reused} reused from an earlier run; {report.settings.describe()}", highlight=False
    )
    summary = Table(title="motion per triplet", title_justify="left")
    for column in ("statistic", "median", "10%", "90%", "max"):
        summary.add_column(column, justify="left" if column == "statistic" else "right")
    for column, label, unit in (
        ("flow_mean", "flow mean", " px"),
        ("flow_std", "flow std", " px"),
        ("occlusion_ratio", "occluded", "%"),
    ):
        values = table[column].to_numpy() * (100 if unit == "%" else 1)
        cells = [f"{v:.3g}{unit}" for v in np.percentile(values, [50, 10, 90, 100])] if len(values) else ["-"] * 4
        summary.add_row(label, *cells)
    console.print(summary)
    counts = {d: table["suggested_difficulty"].to_pylist().count(d) for d in schema.DIFFICULTIES}
    console.print("suggested difficulty: " + ", ".join(f"{d} {n}" for d, n in counts.items()), highlight=False)
    console.print(f"thresholds: {report.thresholds.describe()}", highlight=False)
    if agreement is not None:
        console.print(
            f"agreement with {agreement.n} human difficulties: quadratic-weighted kappa {agreement.kappa:.3f}, "
            f"{agreement.exact:.0%} identical",
            highlight=False,
        )
    for line in report.errors:
        console.print(f"error: {line}", style="red", highlight=False, soft_wrap=True)
    console.print(f"{table.num_rows} triplets in motion.parquet; histograms in {histograms}", highlight=False)


def print_calibration(console: Console, calibration, saved_to: Path) -> None:
    before, after = calibration.agreement_before, calibration.agreement_after
    console.print(f"calibrated on {after.n} human difficulties", highlight=False)
    console.print(
        f"  before: {calibration.before.describe()}: kappa {before.kappa:.3f}, {before.exact:.0%} identical",
        highlight=False,
    )
    console.print(
        f"  after:  {calibration.after.describe()}: kappa {after.kappa:.3f}, {after.exact:.0%} identical",
        highlight=False,
    )
    confusion = Table(title="agreement after calibration", title_justify="left")
    confusion.add_column("human \\ suggested")
    for difficulty in schema.DIFFICULTIES:
        confusion.add_column(difficulty, justify="right")
    for difficulty, row in zip(schema.DIFFICULTIES, after.confusion):
        confusion.add_row(difficulty, *(str(v) for v in row))
    console.print(confusion)
    console.print(f"thresholds saved to {saved_to}; motion.parquet's suggestions updated", highlight=False)


def split_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dataset", type=Path, metavar="DATASET_DIR")
    parser.add_argument(
        "--by", choices=("source", "series"), default="source", help="what no two sides may share (default source)"
    )
    parser.add_argument(
        "--test-fraction", type=float, default=0.2, help="share of triplets in the test set (default 0.2)"
    )
    parser.add_argument("--seed", type=int, default=0)


def split(args: argparse.Namespace, console: Console) -> int:
    from atdkit.pipelines.statistics import split as splitting

    dataset = Dataset(args.dataset)
    settings = splitting.SplitSettings(args.by, args.test_fraction, args.seed)
    try:
        table, warnings = splitting.split_dataset(dataset, settings)
        triplets = dataset.read("triplets")
        sides = splitting.summarise(triplets, table, dataset.read("labels"), args.by)
        together = sorted({g for g in splitting.split_groups(dataset, triplets, args.by) if " + " in g})
    except (splitting.SplitError, DatasetError) as error:
        raise UsageError(str(error)) from None
    print_split(console, sides, settings)
    for group in together:
        console.print(f"kept on one side, sharing content (atdkit audit): {group}", highlight=False)
    for line in warnings:
        console.print(f"warning: {line}", style="yellow", highlight=False, soft_wrap=True)
    console.print(f"wrote {dataset.table_path('splits')}", highlight=False)
    return 0


def print_split(console: Console, sides, settings) -> None:
    """Each side's size, films or series and human difficulties, then the motion tags per side."""
    grouping = "sources" if settings.by == "source" else "series"
    table = Table(
        title=f"split by {settings.by} (test fraction {settings.test_fraction:g}, seed {settings.seed})",
        title_justify="left",
    )
    for column in ("side", "triplets", "share", grouping, *schema.DIFFICULTIES, "unlabelled"):
        table.add_column(column, justify="left" if column in ("side", grouping) else "right")
    for side in sides:
        shown = ", ".join(side.groups[:4]) + (f" and {len(side.groups) - 4} more" if len(side.groups) > 4 else "")
        table.add_row(
            side.side,
            str(side.triplets),
            f"{side.share:.1%}",
            shown,
            *(str(side.difficulties.get(d, 0)) for d in (*schema.DIFFICULTIES, "unlabelled")),
        )
    console.print(table)
    tags = [t for t in (*schema.GENERAL_MOTIONS, *schema.BEHAVIORS) if any(side.tags.get(t) for side in sides)]
    if not tags:
        console.print("no motion tags yet (labels.parquet absent or without tags)", highlight=False)
        return
    tag_table = Table(title="motion tags per side (human labels)", title_justify="left")
    tag_table.add_column("tag")
    for side in sides:
        tag_table.add_column(side.side, justify="right")
    for tag in tags:
        tag_table.add_row(tag, *(str(side.tags.get(tag, 0)) for side in sides))
    console.print(tag_table)


def report_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dataset", type=Path, metavar="DATASET_DIR")
    parser.add_argument("--out", type=Path, help="HTML file (default DATASET_DIR/report.html)")
    parser.add_argument("--samples", type=int, default=4, help="sample triplets shown per difficulty (default 4)")


def report(args: argparse.Namespace, console: Console) -> int:
    from atdkit.pipelines.statistics.report import write_report

    if args.samples < 0:
        raise UsageError("--samples must be at least 0")
    try:
        path = write_report(Dataset(args.dataset), args.out, args.samples)
    except DatasetError as error:
        raise UsageError(str(error)) from None
    console.print(f"wrote {path}", highlight=False)
    return 0


COMMANDS = (
    Command(
        "stats", "optical-flow statistics, histograms and a difficulty suggestion per triplet", stats_options, stats
    ),
    Command("split", "source-exclusive train/test split, stratified by difficulty", split_options, split),
    Command("report", "one self-contained HTML page describing the dataset", report_options, report),
)
