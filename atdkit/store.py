"""The dataset folder: where each table and image lives, and how they are written safely.

Everything is written under a temporary name and renamed into place, so a run killed at
any moment leaves either the old file or the new one, never half of one. Temporary names
start with ``.tmp-`` and are swept when a dataset is opened for writing.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
from pathlib import Path
from typing import Iterator

import pyarrow as pa
import pyarrow.parquet as pq

TMP_PREFIX = ".tmp-"


class DatasetBusyError(Exception):
    """Another atdkit process is writing to the same dataset."""


class Dataset:
    """Paths of one dataset folder (see README, "Output tables")."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    frames_dir = property(lambda self: self.root / "frames")
    cache_dir = property(lambda self: self.root / "cache")
    triplets_path = property(lambda self: self.root / "triplets.parquet")
    sources_path = property(lambda self: self.root / "sources.parquet")

    def triplet_dir(self, triplet_id: str) -> Path:
        return self.frames_dir / triplet_id

    def source_cache(self, source_id: str) -> Path:
        return self.cache_dir / source_id

    def cached_source_ids(self) -> list[str]:
        if not self.cache_dir.is_dir():
            return []
        return sorted(p.name for p in self.cache_dir.iterdir() if p.is_dir() and not p.name.startswith(TMP_PREFIX))

    @contextlib.contextmanager
    def writing(self) -> Iterator["Dataset"]:
        """Hold the dataset's write lock and sweep temporaries left by a killed run."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "w") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise DatasetBusyError(f"{self.root}: another atdkit process is writing to this dataset") from None
            self.sweep_temporaries()
            yield self

    def sweep_temporaries(self) -> None:
        """Remove the temporary files and folders of writers that were killed before their rename."""
        for leftover in self.root.rglob(f"{TMP_PREFIX}*"):
            remove(leftover)


def remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def temporary_sibling(path: Path) -> Path:
    """Where to write ``path`` before renaming it into place (same folder, same suffix)."""
    return path.with_name(f"{TMP_PREFIX}{path.stem}.{os.getpid()}{path.suffix}")


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary path to write ``path``'s content to; renamed onto ``path`` when the block
    succeeds, removed when it fails."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_sibling(path)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_file(path: Path, data: bytes | str) -> None:
    """Write ``data`` (text as UTF-8) to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data.encode() if isinstance(data, str) else data)


def write_table(path: Path, rows: list[dict] | pa.Table, schema: pa.Schema) -> None:
    """Write ``rows`` as Parquet with ``schema``, atomically."""
    table = rows if isinstance(rows, pa.Table) else pa.Table.from_pylist(rows, schema=schema)
    with atomic_path(path) as tmp:
        pq.write_table(table.cast(schema), tmp)


class TableWriter:
    """Rows appended in batches to a Parquet file that appears at ``path`` only on commit.

    Memory stays bounded however many rows a long film produces.
    """

    def __init__(self, path: Path, schema: pa.Schema, batch_rows: int = 8192):
        self.path, self.schema, self.batch_rows = path, schema, batch_rows
        path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = temporary_sibling(path)
        self._writer = pq.ParquetWriter(self._tmp, schema)
        self._rows: list[dict] = []

    def append(self, row: dict) -> None:
        self._rows.append(row)
        if len(self._rows) >= self.batch_rows:
            self._flush()

    def _flush(self) -> None:
        if self._rows:
            self._writer.write_table(pa.Table.from_pylist(self._rows, schema=self.schema))
            self._rows = []

    def commit(self) -> None:
        self._flush()
        self._writer.close()
        os.replace(self._tmp, self.path)

    def abort(self) -> None:
        self._writer.close()
        self._tmp.unlink(missing_ok=True)


def read_table(path: Path, schema: pa.Schema) -> pa.Table:
    return pq.read_table(path, schema=schema)


def replace_dir(tmp: Path, final: Path) -> None:
    """Move a fully written temporary folder into place, replacing an older one."""
    if final.exists():
        remove(final)
    os.replace(tmp, final)
