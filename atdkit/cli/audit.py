"""Near-duplicates and leakage: ``atdkit audit``."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from atdkit.cli.common import Command, UsageError
from atdkit.progress import RateColumn
from atdkit.store import Dataset, DatasetError

SHOWN = 10  # groups, pairs and leaks printed (all are in the tables)


def audit_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dataset", type=Path, metavar="DATASET_DIR")
    parser.add_argument(
        "--threshold",
        type=int,
        default=None,
        metavar="BITS",
        help="largest signature distance (of 192 bits) between near-duplicates (default 12)",
    )
    parser.add_argument(
        "--dedup",
        action="store_true",
        help="keep one film's triplets per group; the other films' become rejections with reason duplicate",
    )
    parser.add_argument("--workers", type=int, default=2, help="threads hashing frames (default 2)")


def audit(args: argparse.Namespace, console: Console) -> int:
    from atdkit.pipelines.audit import dedup as deduplication
    from atdkit.pipelines.audit.index import layout_for
    from atdkit.pipelines.audit.run import THRESHOLD, audit_dataset

    threshold = THRESHOLD if args.threshold is None else args.threshold
    if threshold < 0:
        raise UsageError("--threshold must be at least 0")
    if args.workers < 1:
        raise UsageError("--workers must be at least 1")
    dataset = Dataset(args.dataset)
    bars = Progress(
        TextColumn("hashing frames"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn("triplets"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
    try:
        layout_for(threshold)
        with bars:
            task = bars.add_task("hash", total=None)
            report = audit_dataset(dataset, threshold, args.workers, lambda n: bars.advance(task, n))
        if args.dedup:
            with dataset.writing():
                report.set_aside = deduplication.dedup(
                    dataset, dataset.read("triplets", required=True), report.duplicates
                )
    except (ValueError, DatasetError, deduplication.DedupError) as error:
        raise UsageError(str(error)) from None
    print_audit(console, report)
    return 1 if report.leaks else 0


def print_audit(console: Console, report) -> None:
    """What was audited, the groups, example pairs, films sharing content, leaks; what --dedup did."""
    members = report.members()
    console.print(
        f"audited {report.triplets - len(report.unreadable)} triplet(s) in {report.seconds:.1f} s "
        f"({report.hashed} hashed, the others' signatures cached); threshold {report.threshold} of 192 bits: "
        f"{len(report.pairs)} near-duplicate pair(s) in {len(members)} group(s)",
        highlight=False,
    )
    if report.unreadable:
        console.print(
            f"note: {len(report.unreadable)} triplet(s) without readable frames not audited, "
            f"e.g. {report.unreadable[0]}",
            style="yellow",
            highlight=False,
        )
    if members:
        groups = Table(title="near-duplicate groups (largest first)", title_justify="left")
        for column in ("group", "triplets", "films", "example triplets"):
            groups.add_column(column, justify="right" if column in ("group", "triplets") else "left")
        for group, ids in sorted(members.items(), key=lambda kv: (-len(kv[1]), kv[0]))[:SHOWN]:
            films = sorted({report.source_of[t] for t in ids})
            groups.add_row(
                str(group), str(len(ids)), ", ".join(films), ", ".join(ids[:3]) + (" ..." if len(ids) > 3 else "")
            )
        console.print(groups)
        console.print(pair_table("closest pairs", report.pairs[:SHOWN], ("triplet", "near-duplicate")))
    for films in report.shared_content():
        console.print(f"films sharing content (one content group): {', '.join(films)}", highlight=False)
    if report.side_of is None:
        console.print("no split yet: atdkit split keeps each content group on one side", highlight=False)
    elif report.leaks:
        console.print(
            pair_table("leaks: train triplet ~ test triplet", report.leaks[:SHOWN], ("train", "test"), report.side_of)
        )
        console.print(
            f"error: {len(report.leaks)} near-duplicate pair(s) straddle the split (run atdkit split again)",
            style="red",
            highlight=False,
        )
    else:
        console.print("no near-duplicate pair straddles the split", highlight=False)
    if report.set_aside:
        console.print(
            f"--dedup: {len(report.set_aside)} triplet(s) set aside as duplicates (verdict duplicate in their "
            "film's cache/<source_id>/candidates.parquet; frames kept): each group keeps one film's triplets",
            highlight=False,
        )
    console.print("wrote duplicates.parquet, source_groups.parquet", highlight=False)


def pair_table(title: str, pairs, header: tuple[str, str], side_of: dict | None = None) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column(header[0])
    table.add_column(header[1])
    table.add_column("distance", justify="right")
    for pair in pairs:
        first, second = pair.first, pair.second
        if side_of is not None and side_of.get(first) == "test":
            first, second = second, first
        table.add_row(first, second, str(pair.distance))
    return table


COMMANDS = (
    Command("audit", "near-duplicate triplets, films sharing content, leakage across the split", audit_options, audit),
)
