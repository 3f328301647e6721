"""Scores: ``atdkit bench`` (Table 1) and ``atdkit interpolate`` (frames between two, or a film retimed).

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
    parser.add_argument("frames", nargs="*", type=Path, metavar="FRAME", help="the first and the last frame")
    parser.add_argument("--method", required=True, help="a method of atdkit bench --list, e.g. animeinterp")
    parser.add_argument(
        "--out",
        type=Path,
        required=True,
        help="image file for one frame (.png); a folder for several times; the film with --video (.mp4, .mkv, .mov, "
        ".webm)",
    )
    timing = parser.add_mutually_exclusive_group()
    timing.add_argument(
        "--times", nargs="+", type=float, metavar="T", help="times of the frames wanted, between 0 and 1 (default 0.5)"
    )
    timing.add_argument(
        "--factor", type=int, metavar="N", help="N even steps: the N-1 frames between (--video: N times the frame rate)"
    )
    timing.add_argument("--fps", type=float, metavar="F", help="--video: the output's frame rate")
    add_weights(parser, "weight files of the method")
    parser.add_argument(
        "--flows",
        type=Path,
        metavar="DIR",
        help="precomputed flows for the methods that take them: guide_flo13.npy, guide_flo31.npy in DIR",
    )
    add_device(parser)
    film = parser.add_argument_group("a whole film (--video)")
    film.add_argument(
        "--video",
        type=Path,
        metavar="FILM",
        help="retime FILM: in-betweens for held drawings, never across a scene cut, audio copied",
    )
    film.add_argument("--report", type=Path, metavar="FILE", help="per-shot table to FILE (.csv or .parquet)")
    film.add_argument("--start", type=float, default=0.0, metavar="S", help="begin S seconds into the film")
    film.add_argument("--duration", type=float, metavar="S", help="retime only S seconds")
    film.add_argument(
        "--crf", type=int, default=16, metavar="Q", help="encoder quality, 0 (lossless) to 51 (default 16)"
    )
    film.add_argument(
        "--chunk-seconds",
        type=float,
        default=20.0,
        metavar="S",
        help="output seconds per resumable chunk (default 20)",
    )
    add_method_options(parser, "interpolate")


def interpolate(args: argparse.Namespace, console: Console) -> int:
    from atdkit.benchmark.harness import BenchError
    from atdkit.benchmark.methods import MethodError

    if args.video is not None:
        return interpolate_video(args, console)
    film_only = {"--fps": args.fps, "--report": args.report, "--duration": args.duration, "--start": args.start or None}
    if any(value is not None for value in film_only.values()):
        raise UsageError(f"{', '.join(flag for flag, value in film_only.items() if value is not None)} go with --video")
    if len(args.frames) != 2:
        raise UsageError("give two frames, FRAME1 FRAME3 (or --video FILM)")
    from atdkit.benchmark.interpolate import MIDDLE, even_times, interpolate_pair

    try:
        times = even_times(args.factor) if args.factor is not None else args.times or [MIDDLE]
        paths, seconds = interpolate_pair(
            args.method,
            *args.frames,
            args.out,
            dict(args.weights),
            args.device,
            args.flows,
            method_options(args, "interpolate"),
            times=times,
        )
    except (MethodError, BenchError, ValueError) as error:
        raise UsageError(str(error)) from None
    where = paths[0] if len(paths) == 1 else f"{len(paths)} frames to {args.out}"
    console.print(f"wrote {where} ({args.method}, {seconds:.1f} s)", highlight=False)
    return 0


def interpolate_video(args: argparse.Namespace, console: Console) -> int:
    """``--video``: the film retimed, a progress bar while it runs, the per-shot table after."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from atdkit.benchmark.harness import BenchError
    from atdkit.benchmark.methods import MethodError
    from atdkit.benchmark.retime import RetimeError, retime_video
    from atdkit.progress import RateColumn

    if args.frames:
        raise UsageError("--video takes no FRAME arguments")
    if args.times or args.flows:
        raise UsageError("--times and --flows go with two frames, not --video (use --factor or --fps)")
    bars = Progress(
        TextColumn("output frames"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn("frames"),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )
    task = bars.add_task("retime", total=None)

    def progress(event: str, value: int) -> None:
        if event == "total":
            bars.update(task, total=value)
        else:
            bars.advance(task, value)

    try:
        with bars:
            result = retime_video(
                args.video,
                args.out,
                args.method,
                factor=args.factor,
                fps=args.fps,
                weights=dict(args.weights),
                device=args.device,
                options=method_options(args, "interpolate"),
                start=args.start,
                duration=args.duration,
                crf=args.crf,
                chunk_seconds=args.chunk_seconds,
                progress=progress,
            )
    except (RetimeError, MethodError, BenchError, ValueError) as error:
        raise UsageError(str(error)) from None
    print_shots(console, result)
    if args.report is not None:
        from atdkit.benchmark.retime.report import write_report

        try:
            write_report(args.report, result.shots)
        except ValueError as error:
            raise UsageError(str(error)) from None
    for line in result.damage:
        console.print(f"warning: {args.video}: {line}", style="yellow", highlight=False, soft_wrap=True)
    resumed = f", {result.resumed_chunks} chunks from an earlier run" if result.resumed_chunks else ""
    console.print(
        f"wrote {result.out}: {result.input_frames} frames -> {result.output_frames} at {float(result.rate):g} fps, "
        f"{result.cuts} cuts ({args.method}, {result.seconds:.1f} s{resumed})",
        highlight=False,
    )
    return 0


def print_shots(console: Console, result) -> None:
    table = Table(title="shots (share of drawings held on ones, twos, threes, longer)", title_justify="left")
    columns = ("shot", "frames", "seconds", "drawings", "ones", "twos", "threes", "longer", "generated", "copied")
    for column in columns:
        table.add_column(column, justify="right")
    for row in result.shots:
        table.add_row(
            str(row["shot"]),
            f"{row['first_frame']}-{row['last_frame']}",
            f"{row['start_s']:.2f}-{row['end_s']:.2f}",
            str(row["drawings"]),
            *(f"{row[k]:.0%}" for k in ("ones", "twos", "threes", "longer")),
            str(row["generated"]),
            str(row["copied"]),
        )
    console.print(table)


COMMANDS = (
    Command("bench", "score interpolation methods on a test set, like the paper's Table 1", bench_options, bench),
    Command(
        "interpolate",
        "frames between two frames, or a whole film retimed (--video), with a benchmark method",
        interpolate_options,
        interpolate,
    ),
)
