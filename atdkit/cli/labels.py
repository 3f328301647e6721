"""Labels: ``atdkit annotate`` (the Streamlit app), ``atdkit annotations compact`` and ``atdkit consolidate``."""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from atdkit.cli.common import Command, UsageError, print_lines
from atdkit.store import Dataset, DatasetError


def labelled_dataset(root: Path) -> Dataset:
    """The dataset at ``root``; a usage error when it has no triplets.parquet."""
    dataset = Dataset(root)
    if not dataset.has("triplets"):
        raise UsageError(f"{root}: not an atdkit dataset (no triplets.parquet)")
    return dataset


def annotate_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dataset", type=Path, metavar="DATASET_DIR")
    parser.add_argument("--port", type=int, default=8501, help="port to serve on (default 8501)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    parser.add_argument("--annotators", help="comma-separated names allowed to label (default: any)")
    parser.add_argument(
        "--labels-per-triplet", type=int, default=2, help="independent labels each triplet gets (default 2)"
    )
    team = parser.add_mutually_exclusive_group()
    team.add_argument(
        "--issue-token",
        metavar="NAME",
        help="give NAME an access token and print their link (then exit); once any is issued, the app admits "
        "token holders only",
    )
    team.add_argument("--revoke-token", metavar="NAME", help="remove NAME's access token (then exit)")
    parser.add_argument("--reviewer", action="store_true", help="with --issue-token: NAME may also adjudicate")


LOOPBACK = ("127.0.0.1", "localhost", "::1")


def annotate(args: argparse.Namespace, console: Console) -> int:
    from atdkit import annotation_ui
    from atdkit.annotation_ui.settings import SettingsError, parse
    from atdkit.pipelines.labels import access

    dataset = labelled_dataset(args.dataset)
    if args.reviewer and not args.issue_token:
        raise UsageError("--reviewer goes with --issue-token NAME")
    if args.issue_token:
        try:
            token = access.issue(dataset, args.issue_token, "reviewer" if args.reviewer else "annotator")
        except ValueError as error:
            raise UsageError(str(error)) from None
        host = "HOST" if args.host in ("0.0.0.0", "::") else args.host
        console.print(f"link for {args.issue_token} (shown once; send it privately):", highlight=False)
        print(f"http://{host}:{args.port}/?token={token}")
        return 0
    if args.revoke_token:
        found = access.revoke(dataset, args.revoke_token)
        console.print(f"{args.revoke_token}: {'token revoked' if found else 'had no token'}", highlight=False)
        return 0 if found else 1
    if args.host not in LOOPBACK and not dataset.has("access_tokens"):
        raise UsageError(
            f"refusing to serve on {args.host} (beyond this machine) without access tokens: "
            "issue one per person first with --issue-token NAME"
        )
    app_args = ["--dataset", str(args.dataset), "--labels-per-triplet", str(args.labels_per_triplet)]
    app_args += ["--annotators", args.annotators] if args.annotators else []
    try:
        parse(app_args)
    except SettingsError as error:
        raise UsageError(str(error)) from None
    app = Path(annotation_ui.__file__).with_name("streamlit_app.py")
    console.print(
        f"annotation app for {args.dataset}: http://{args.host}:{args.port}/  (Ctrl+C stops it)", highlight=False
    )
    return subprocess.call(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(app),
            "--server.address",
            args.host,
            "--server.port",
            str(args.port),
            "--server.headless",
            "true",
            "--browser.gatherUsageStats",
            "false",
            "--server.fileWatcherType",
            "none",
            "--",
            *app_args,
        ]
    )


def annotations_options(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True)
    compact = actions.add_parser("compact", help="merge each person's parts into one, keeping every row")
    compact.add_argument("dataset", type=Path, metavar="DATASET_DIR")


def annotations(args: argparse.Namespace, console: Console) -> int:
    from atdkit.pipelines.labels.annotations import compact

    dataset = labelled_dataset(args.dataset)
    result = compact(dataset.root)
    print_lines(console, result.errors)
    console.print(
        f"merged {result.merged} part(s) into {result.written} ({result.rows} rows) in {dataset.root}", highlight=False
    )
    return 1 if result.errors else 0


def consolidate_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dataset", type=Path, metavar="DATASET_DIR")


def consolidate(args: argparse.Namespace, console: Console) -> int:
    from atdkit.pipelines.labels.consolidate import consolidate as consolidate_labels

    dataset = labelled_dataset(args.dataset)
    try:
        result = consolidate_labels(dataset)
    except DatasetError as error:
        raise UsageError(str(error)) from None
    if result.agreement:
        console.print(agreement_table(result.agreement))
    print_lines(console, result.errors)
    rows = result.labels.to_pylist()
    console.print(
        f"{dataset.table_path('labels')}: {len(rows)} labelled triplet(s), {sum(r['kept'] for r in rows)} kept "
        f"(eligible by at least two), {sum(r['needs_review'] for r in rows)} need review",
        highlight=False,
    )
    return 1 if result.errors else 0


def agreement_table(pairs) -> Table:
    """Per annotator pair: eligibility kappa, quadratic-weighted difficulty kappa, box IoU."""
    table = Table(title="agreement per annotator pair", title_justify="left")
    for column in (
        "pair",
        "shared",
        "eligibility kappa",
        "rated by both",
        "difficulty kappa (quadratic)",
        "boxes by both",
        "mean IoU",
        "IoU >= 0.5",
    ):
        table.add_column(column, justify="left" if column == "pair" else "right")

    def figure(value: float, text: str = "{:.3f}") -> str:
        return "n/a" if math.isnan(value) else text.format(value)

    for pair in pairs:
        table.add_row(
            f"{pair.first} / {pair.second}",
            str(pair.shared),
            figure(pair.eligibility_kappa),
            str(pair.difficulty_pairs),
            figure(pair.difficulty_kappa),
            str(pair.roi_pairs),
            figure(pair.mean_iou),
            figure(pair.share_iou_agreed, "{:.0%}"),
        )
    return table


COMMANDS = (
    Command("annotate", "start the labelling app (Streamlit) on a dataset", annotate_options, annotate),
    Command("annotations", "maintain the annotation parts of a dataset", annotations_options, annotations),
    Command(
        "consolidate",
        "annotators' labels -> labels.parquet, with an agreement report",
        consolidate_options,
        consolidate,
    ),
)
