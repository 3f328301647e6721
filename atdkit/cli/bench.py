"""Scores: ``atdkit bench`` (Table 1) and ``atdkit interpolate`` (one middle frame).

Both offer, besides their own options, the run options the methods declare (``Method.options``),
so that a method's priors are its own business, not this module's.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.table import Table

from atdkit.cli.common import Command, UsageError, add_device, add_weights, size_argument

SHOWN_FAILURES = 20  # failed triplets listed on the terminal


def add_method_options(parser: argparse.ArgumentParser, command: str) -> None:
    """The run options the methods declare for ``command``, each once, its help naming the methods."""
    from atdkit.benchmark import methods

    group = parser.add_argument_group("options of particular methods")
    for option, names in methods.run_options(command):
        help = f"{option.help} [{', '.join(names)}]"
        if option.switch:
            group.add_argument(option.flag, dest=option.key, action="store_true", help=help)
        else:
            group.add_argument(
                option.flag,
                dest=option.key,
                choices=option.choices,
                type=option.type,
                metavar=option.metavar,
                help=help,
            )


def method_options(args: argparse.Namespace, command: str) -> dict[str, object]:
    """The values ``args`` give the methods' run options, by key (None for those not given)."""
    from atdkit.benchmark import methods

    return {option.key: getattr(args, option.key) for option, _ in methods.run_options(command)}


def bench_options(parser: argparse.ArgumentParser) -> None:
    from atdkit.benchmark.scoring.profiles import DEFAULT_PROFILE, PROFILES
    from atdkit.benchmark.scoring.scores import BASIC, METRICS

    parser.add_argument("--data", type=Path, metavar="DATA", help="ATD-12K test layout folder or atdkit dataset")
    parser.add_argument("--methods", nargs="+", metavar="NAME", help="methods to score (see --list)")
    parser.add_argument("--out", type=Path, metavar="RESULTS_DIR", help="results folder")
    parser.add_argument("--list", action="store_true", help="list the methods and the state of their weight files")
    add_device(parser)
    add_weights(parser, "weight files of the methods")
    parser.add_argument(
        "--profile",
        nargs="+",
        choices=tuple(PROFILES),
        default=[DEFAULT_PROFILE],
        metavar="NAME",
        help=f"scoring protocols, several at once ({', '.join(PROFILES)}; default {DEFAULT_PROFILE}: "
        "the paper's); the first leads the summary",
    )
    parser.add_argument(
        "--metrics",
        nargs="+",
        choices=tuple(METRICS),
        default=list(BASIC),
        metavar="NAME",
        help=f"metrics ({', '.join(METRICS)}; default {' '.join(BASIC)}, always computed); lpips and "
        "lpips-vgg need --weights alexnet=... or vgg16=...",
    )
    parser.add_argument(
        "--size",
        type=size_argument,
        metavar="WxH",
        help="score at this size instead of the profile's 960x540 (e.g. a quick run; recorded in run.json)",
    )
    parser.add_argument("--split", help="atdkit datasets: test (default when splits.parquet exists), train or all")
    parser.add_argument("--resume", action="store_true", help="add to RESULTS_DIR, skipping triplets already scored")
    parser.add_argument("--save-frames", action="store_true", help="keep predictions in RESULTS_DIR/frames/<method>/")
    parser.add_argument("--fp16", action="store_true", help="half-precision autocast on the GPU (recorded in run.json)")
    parser.add_argument("--workers", type=int, help="threads reading frames ahead (default: CPU count, at most 4)")
    add_method_options(parser, "bench")


def bench(args: argparse.Namespace, console: Console) -> int:
    from atdkit.benchmark import methods
    from atdkit.benchmark.harness import BenchError, run_bench

    given = dict(args.weights)
    if args.list:
        print_methods(console, methods, given)
        return 0
    missing = [
        flag for flag, value in (("--data", args.data), ("--methods", args.methods), ("--out", args.out)) if not value
    ]
    if missing:
        raise UsageError(f"{', '.join(missing)} required (or --list)")
    if args.workers is not None and args.workers < 1:
        raise UsageError("--workers must be at least 1")
    try:
        report = run_bench(
            args.data,
            args.methods,
            args.out,
            profiles=args.profile,
            metrics=args.metrics,
            size=args.size,
            device=args.device,
            weights=given,
            split=args.split,
            resume=args.resume,
            save_frames=args.save_frames,
            fp16=args.fp16,
            workers=args.workers,
            console=console,
            options=method_options(args, "bench"),
            command=args.command_line,
        )
    except BenchError as error:
        raise UsageError(str(error)) from None
    print_scores(console, report)
    return 1 if report.failed else 0


def print_methods(console: Console, methods, given: dict[str, Path]) -> None:
    """``bench --list``: each method, what it does, what it takes and where its weight files are."""
    table = Table(title="interpolation methods", title_justify="left")
    for column in ("method", "what it does", "flows", "padding", "GPU", "weights"):
        table.add_column(column)
    for method in methods.available().values():
        table.add_row(
            method.name,
            method.summary,
            method.flows,
            method.fit.describe() if method.fit else "none",
            "needed" if method.needs_gpu else "optional",
            methods.weight_status(method, given),
        )
    console.print(table)


def print_scores(console: Console, report) -> None:
    """The Table 1 layout under the first profile, the profiles side by side, the failed triplets, the files."""
    from atdkit.benchmark.summary import GROUP_TITLES, GROUPS, PERCEPTUAL_TITLES, cell, perceptual_columns, shown

    first = [s for s in report.summary if s["profile"] == report.profiles[0]]
    title = f"benchmark at {report.size[0]}x{report.size[1]}, profile {report.profiles[0]} ({report.device})"
    table = Table(title=title, title_justify="left")
    for column in ("method", *GROUP_TITLES.values(), "failed"):
        table.add_column(column, justify="left" if column == "method" else "right")
    for s in first:
        table.add_row(s["method"], *(cell(s["groups"][g]) for g in GROUPS), str(s["failed"]))
    console.print(table)
    whole = {(s["method"], s["profile"]): s["groups"]["whole"] for s in report.summary}
    perceptual = perceptual_columns(report.summary)
    sides = [("PSNR / SSIM", cell)] if len(report.profiles) > 1 else []
    if perceptual:
        sides.append(
            (
                " / ".join(PERCEPTUAL_TITLES[p] for p in perceptual),
                lambda w: " / ".join(shown(p, w[p]) for p in perceptual),
            )
        )
    for metrics, text in sides:
        side = Table(title=f"Whole, {metrics} under each profile (protocols.md)", title_justify="left")
        for column in ("method", *report.profiles):
            side.add_column(column, justify="left" if column == "method" else "right")
        for s in first:
            side.add_row(s["method"], *(text(whole[(s["method"], p)]) for p in report.profiles))
        console.print(side)
    by_problem: dict[tuple[str, str], list[str]] = {}
    for method, triplet_id, reason in report.failures:
        by_problem.setdefault((triplet_id, reason), []).append(method)
    for i, ((triplet_id, reason), names) in enumerate(by_problem.items()):
        if i == SHOWN_FAILURES:
            console.print(
                f"... and {len(by_problem) - i} more failed triplets (status column of per_triplet.parquet)",
                style="red",
            )
            break
        console.print(
            f"failed: {triplet_id} ({', '.join(names)}): {reason}", style="red", highlight=False, soft_wrap=True
        )
    console.print(
        f"results in {report.out} (per_triplet.parquet, summary.md, protocols.md, summary.csv, breakdowns.csv, "
        "run.json, plots)",
        highlight=False,
    )


def interpolate_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("frames", nargs=2, type=Path, metavar="FRAME", help="the first and the last frame")
    parser.add_argument("--method", required=True, help="a method of atdkit bench --list, e.g. animeinterp")
    parser.add_argument("--out", type=Path, required=True, help="image file for the middle frame (.png)")
    add_weights(parser, "weight files of the method")
    parser.add_argument(
        "--flows",
        type=Path,
        metavar="DIR",
        help="precomputed flows for the methods that take them: guide_flo13.npy, guide_flo31.npy in DIR",
    )
    add_device(parser)
    add_method_options(parser, "interpolate")


def interpolate(args: argparse.Namespace, console: Console) -> int:
    from atdkit.benchmark.harness import BenchError
    from atdkit.benchmark.interpolate import interpolate_pair
    from atdkit.benchmark.methods import MethodError

    try:
        out, seconds = interpolate_pair(
            args.method,
            *args.frames,
            args.out,
            dict(args.weights),
            args.device,
            args.flows,
            method_options(args, "interpolate"),
        )
    except (MethodError, BenchError, ValueError) as error:
        raise UsageError(str(error)) from None
    console.print(f"wrote {out} ({args.method}, {seconds:.1f} s)", highlight=False)
    return 0


COMMANDS = (
    Command("bench", "score interpolation methods on a test set, like the paper's Table 1", bench_options, bench),
    Command("interpolate", "the middle frame of two frames with a benchmark method", interpolate_options, interpolate),
)
