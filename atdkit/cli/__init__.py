"""atdkit's command line, on top of everything else: one module per group of commands, each defining
its commands' options beside their handlers and their printing.

    films ──extract──▶ triplets ──annotate──▶ labels ──split──▶ train/test ──bench──▶ scores

Only the command being run has its options built (``atdkit bench`` imports the methods to offer
their options; ``atdkit extract`` never imports PyTorch).
"""

from __future__ import annotations

import argparse
import sys

from rich.console import Console
from rich.markup import escape

import atdkit
from atdkit.cli import audit, bench, dataset, demo, formats, labels, release, statistics, train
from atdkit.cli.common import Command, UsageError
from atdkit.store import DatasetBusyError

# in the order ``atdkit --help`` lists them
GROUPS = (dataset, labels, formats, release, statistics, audit, bench, train, demo)


def commands() -> dict[str, Command]:
    return {command.name: command for group in GROUPS for command in group.COMMANDS}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser of every command; with ``only``, the options of that command alone are built."""
    parser = argparse.ArgumentParser(
        prog="atdkit",
        description="Build, label and benchmark animation frame-interpolation "
        "datasets (ATD-12K style). `atdkit COMMAND --help` for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"atdkit {atdkit.__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, command in commands().items():
        sub = subparsers.add_parser(name, help=command.help, description=command.help)
        if only in (None, name):
            command.options(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns its exit status (2 for a usage error, printed as one line)."""
    argv = sys.argv[1:] if argv is None else [str(arg) for arg in argv]
    name = next((arg for arg in argv if not arg.startswith("-")), None)
    args = build_parser(name if name in commands() else None).parse_args(argv)
    args.command_line = " ".join(["atdkit", *argv])  # recorded with results
    console = Console(stderr=True)
    if not console.is_terminal:
        console.width = max(console.width, 140)  # logs and CI: keep the summary tables readable
    try:
        return commands()[args.command].handler(args, console)
    except (UsageError, DatasetBusyError) as error:
        console.print(f"[red]atdkit {args.command}: error:[/] {escape(str(error))}", highlight=False, soft_wrap=True)
        return 2
    except KeyboardInterrupt:
        console.print(f"[yellow]atdkit {args.command}: interrupted[/]; run the same command again to resume")
        return 130


def entry_point() -> None:
    sys.exit(main())
