"""Other layouts: ``atdkit export atd12k`` and ``atdkit import atd12k``."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from atdkit.cli.common import Command, UsageError, print_lines
from atdkit.cli.labels import labelled_dataset
from atdkit.store import Dataset, DatasetError


def export_options(parser: argparse.ArgumentParser) -> None:
    layouts = parser.add_subparsers(dest="format", required=True)
    atd = layouts.add_parser("atd12k", help="the official ATD-12K test layout and JSON")
    atd.add_argument("dataset", type=Path, metavar="DATASET_DIR")
    atd.add_argument("out", type=Path, metavar="OUT_DIR")
    atd.add_argument("--coco", type=Path, metavar="FILE", help="also write the RoI boxes as COCO JSON")


def export(args: argparse.Namespace, console: Console) -> int:
    from atdkit.pipelines.formats import atd12k_export

    dataset = labelled_dataset(args.dataset)
    try:
        report = atd12k_export.export(dataset, args.out, args.coco)
    except DatasetError as error:
        raise UsageError(str(error)) from None
    print_lines(console, report.problems, report.notes)
    coco = f", COCO boxes in {args.coco}" if args.coco else ""
    console.print(
        f"exported {report.written + report.skipped} triplet(s) to {args.out} "
        f"({report.written} written, {report.skipped} already there){coco}",
        highlight=False,
    )
    return 1 if report.problems else 0


def import_options(parser: argparse.ArgumentParser) -> None:
    layouts = parser.add_subparsers(dest="format", required=True)
    atd = layouts.add_parser("atd12k", help="the official ATD-12K layout (test set with labels, train set)")
    atd.add_argument("atd", type=Path, metavar="ATD_DIR")
    atd.add_argument("dataset", type=Path, metavar="DATASET_DIR")
    atd.add_argument(
        "--subsets", default="test,train", help="which parts to import: test, train or both (default test,train)"
    )


def import_(args: argparse.Namespace, console: Console) -> int:
    from atdkit.pipelines.formats import atd12k_import

    subsets = tuple(s.strip() for s in args.subsets.split(",") if s.strip())
    if not subsets or set(subsets) - set(atd12k_import.SUBSETS):
        raise UsageError(f"--subsets: expected test, train or test,train, got {args.subsets!r}")
    try:
        report = atd12k_import.import_atd12k(args.atd, Dataset(args.dataset), subsets)
    except (ValueError, DatasetError) as error:
        raise UsageError(str(error)) from None
    print_lines(console, report.problems, report.notes)
    console.print(
        f"imported {report.written + report.skipped} triplet(s) into {args.dataset} "
        f"({report.written} written, {report.skipped} already there); labels in labels.parquet",
        highlight=False,
    )
    return 1 if report.problems else 0


COMMANDS = (
    Command("export", "write kept, labelled triplets in another layout", export_options, export),
    Command("import", "read a dataset in another layout into atdkit's tables", import_options, import_),
)
