"""The app's command-line settings: the words after ``--`` in ``streamlit run annotation_ui -- ...``."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from atdkit.pipelines.labels.annotations import check_name
from atdkit.store import Dataset


class SettingsError(Exception):
    """Bad app arguments; the message is the one-line reason."""


@dataclass(frozen=True)
class Settings:
    dataset: Path
    annotators: tuple[str, ...] | None  # None: any valid name
    labels_per_triplet: int


def _names(text: str) -> tuple[str, ...]:
    try:
        return tuple(check_name(name.strip()) for name in text.split(",") if name.strip())
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="streamlit run annotation_ui --", exit_on_error=False, add_help=False)
    parser.add_argument("--dataset", type=Path, help="dataset folder written by atdkit extract")
    parser.add_argument("--annotators", type=_names, help="comma-separated names allowed to label (default: any)")
    parser.add_argument(
        "--labels-per-triplet", type=int, default=2, help="independent labels each triplet gets (default 2)"
    )
    return parser


def parse(argv: list[str]) -> Settings:
    try:
        args, unknown = parser().parse_known_args(argv)
    except (argparse.ArgumentError, argparse.ArgumentTypeError) as error:
        raise SettingsError(str(error)) from None
    if unknown:
        raise SettingsError(f"unknown argument(s): {' '.join(unknown)}")
    if args.dataset is None:
        raise SettingsError("--dataset DATASET_DIR is required")
    if args.labels_per_triplet < 1:
        raise SettingsError(f"--labels-per-triplet must be at least 1, got {args.labels_per_triplet}")
    dataset = args.dataset.resolve()
    if not Dataset(dataset).has("triplets"):
        raise SettingsError(f"{dataset}: not an atdkit dataset (no triplets.parquet); run atdkit extract first")
    return Settings(dataset, args.annotators or None, args.labels_per_triplet)
