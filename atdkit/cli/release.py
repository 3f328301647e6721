"""Sharing without frames: ``atdkit manifest`` (what may be shared) and ``atdkit rebuild`` (the dataset again)."""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

from rich.console import Console

from atdkit.cli.common import Command, UsageError, print_lines
from atdkit.store import Dataset, DatasetError


def manifest_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dataset", type=Path, metavar="DATASET_DIR")
    parser.add_argument("--out", type=Path, required=True, metavar="RELEASE_DIR", help="where the release is written")


def manifest(args: argparse.Namespace, console: Console) -> int:
    from atdkit.pipelines.release.manifest import write_manifest

    try:
        report = write_manifest(Dataset(args.dataset), args.out)
    except DatasetError as error:
        raise UsageError(str(error)) from None
    console.print(
        f"release of {report.triplets} triplet(s) from {report.sources} film(s) written to {args.out} "
        f"({', '.join(report.tables)}; no frame). Share it; others rebuild it with: "
        f"atdkit rebuild {args.out} --videos THEIR_COPIES --out DATASET",
        highlight=False,
        soft_wrap=True,
    )
    return 0


def rebuild_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("release", type=Path, metavar="RELEASE_DIR", help="a folder written by atdkit manifest")
    parser.add_argument(
        "--videos", nargs="+", required=True, metavar="PATH", help="your copies of the films: files, folders, globs"
    )
    parser.add_argument("--out", type=Path, required=True, metavar="DATASET_DIR", help="the dataset to write")


def rebuild(args: argparse.Namespace, console: Console) -> int:
    from atdkit.pipelines.release.rebuild import rebuild as run

    try:
        report = run(args.release, args.videos, args.out, lambda source_id: console.print(f"{source_id}: done"))
    except DatasetError as error:
        raise UsageError(str(error)) from None
    for source_id, match in sorted(report.matches.items()):
        console.print(f"{source_id}: {match.path} (matched by {match.by})", highlight=False, soft_wrap=True)
    problems = [
        f"{row['triplet_id']}: {row['status']}: {row['detail']}" for row in report.rows if row["status"] != "verified"
    ]
    print_lines(console, [*report.input_errors, *problems[:20]])
    if len(problems) > 20:
        console.print(f"... and {len(problems) - 20} more in {args.out / 'rebuilt.parquet'}")
    counts = Counter(row["status"] for row in report.rows)
    console.print(
        f"rebuilt {counts['verified']} of {len(report.rows)} triplet(s) in {args.out}, every PNG verified"
        + "".join(f"; {n} {status}" for status, n in sorted(counts.items()) if status != "verified"),
        highlight=False,
    )
    return 0 if report.complete else 1


COMMANDS = (
    Command("manifest", "write what of a dataset can be shared without any frame", manifest_options, manifest),
    Command("rebuild", "make a released dataset again from your copies of its films", rebuild_options, rebuild),
)
