"""Dataset tables for the statistics steps, read with a one-line reason when missing or unreadable."""
from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from atdkit import schema
from atdkit.store import Dataset, read_table

SCHEMAS = {
    "triplets": schema.TRIPLETS,
    "sources": schema.SOURCES,
    "labels": schema.LABELS,
    "motion": schema.MOTION,
    "splits": schema.SPLITS,
}
WRITTEN_BY = {"triplets": "atdkit extract", "sources": "atdkit extract", "labels": "atdkit consolidate",
              "motion": "atdkit stats", "splits": "atdkit split"}


class DatasetError(Exception):
    """A dataset table that is missing or cannot be read; the message names the file."""


def table_path(dataset: Dataset, name: str) -> Path:
    return dataset.root / f"{name}.parquet"


def read_dataset_table(dataset: Dataset, name: str, required: bool = False) -> pa.Table | None:
    """``DATASET_DIR/<name>.parquet`` read with its schema; None when absent and not ``required``."""
    path = table_path(dataset, name)
    if not path.is_file():
        if not dataset.root.is_dir():
            raise DatasetError(f"{dataset.root}: no such dataset folder")
        if required:
            raise DatasetError(f"{path}: no such file (run {WRITTEN_BY[name]} first)")
        return None
    try:
        return read_table(path, SCHEMAS[name])
    except (pa.ArrowException, OSError, ValueError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise DatasetError(f"{path}: not a readable {name} table ({reason})") from None
