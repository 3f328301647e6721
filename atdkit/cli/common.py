"""What the command modules share: how a command is declared, option types, and printing helpers."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from atdkit.sizes import parse_size


class UsageError(Exception):
    """Bad command-line input or a run that cannot start; the message is the one-line reason."""


@dataclass(frozen=True)
class Command:
    """``atdkit NAME``: ``options(parser)`` adds its options; ``handler(args, console)`` runs it and
    returns the exit status."""

    name: str
    help: str
    options: Callable[[argparse.ArgumentParser], None]
    handler: Callable[[argparse.Namespace, Console], int]


def size_argument(text: str) -> tuple[int, int]:
    try:
        return parse_size(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def weights_argument(text: str) -> tuple[str, Path]:
    key, sep, path = text.partition("=")
    if not sep or not key or not path:
        raise argparse.ArgumentTypeError(f"expected NAME=PATH, got {text!r}")
    return key, Path(path)


def add_weights(parser: argparse.ArgumentParser, help: str) -> None:
    parser.add_argument("--weights", nargs="+", type=weights_argument, default=[], metavar="NAME=PATH", help=help)


def add_device(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--device", choices=("auto", "cuda", "cpu"), default="auto", help="default: cuda when available"
    )


def add_executor(parser: argparse.ArgumentParser, units: str) -> None:
    """``--workers``, ``--executor`` and ``--ray-address``: where the command's units of work run."""
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help=f"{units} processed in parallel (default: CPU count)"
    )
    parser.add_argument(
        "--executor",
        choices=("local", "ray"),
        default="local",
        help=f"where {units} are processed: local (a process pool here, default) or ray (a Ray cluster)",
    )
    parser.add_argument(
        "--ray-address",
        metavar="ADDR",
        help="the Ray cluster to run on (default: $RAY_ADDRESS, "
        "else a Ray instance started here with --workers CPUs); needs --executor ray",
    )


def executor_choice(args: argparse.Namespace):
    """The executor ``args`` ask for; a usage error for options that do not go together."""
    from atdkit.pipelines.executors import ExecutorChoice

    if args.workers < 1:
        raise UsageError("--workers must be at least 1")
    if args.ray_address and args.executor != "ray":
        raise UsageError("--ray-address needs --executor ray")
    return ExecutorChoice(args.executor, args.workers, args.ray_address)


def print_nodes(console: Console, nodes, unit: str) -> None:
    """The per-node summary of a run on a Ray cluster."""
    if nodes.nodes:
        console.print(nodes.table(unit))


def print_lines(console: Console, problems: list[str], notes: list[str] = ()) -> None:
    """Notes in yellow, then problems in red, one line each."""
    for line in notes:
        console.print(f"note: {line}", style="yellow", highlight=False, soft_wrap=True)
    for line in problems:
        console.print(f"error: {line}", style="red", highlight=False, soft_wrap=True)
