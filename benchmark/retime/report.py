"""``--report``: the per-shot table of a retimed film, as CSV or Parquet."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from atdkit.store import atomic_path, write_file

COLUMNS = (
    "shot", "first_frame", "last_frame", "start_s", "end_s", "drawings", "ones", "twos", "threes", "longer",
    "output_frames", "generated", "copied",
)  # fmt: skip


def write_report(path: Path, shots: list[dict]) -> None:
    """One row per shot (``RetimeResult.shots``): a ``.csv`` or ``.parquet`` file, written atomically."""
    path = Path(path)
    if path.suffix.lower() == ".csv":
        text = io.StringIO()
        writer = csv.DictWriter(text, COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows({column: row[column] for column in COLUMNS} for row in shots)
        write_file(path, text.getvalue())
    elif path.suffix.lower() == ".parquet":
        with atomic_path(path) as temporary:
            pq.write_table(pa.Table.from_pylist([{c: row[c] for c in COLUMNS} for row in shots]), temporary)
    else:
        raise ValueError(f"--report {path}: write a .csv or a .parquet file")
