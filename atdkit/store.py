"""The dataset folder: where each table and image lives, how tables are read, and how files are written safely.

:class:`Dataset` owns the path of every dataset table (:data:`TABLES`) and reads them with their
schema, a missing or unreadable table being one :class:`DatasetError` line that names the file.
Everything is written under a temporary name and renamed into place, so a run killed at any
moment leaves either the old file or the new one, never half of one. Temporary names start with
``.tmp-`` and are swept when a dataset is opened for writing.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from atdkit import schema

TMP_PREFIX = ".tmp-"


@dataclass(frozen=True)
class TableKind:
    schema: pa.Schema
    written_by: str  # the command that makes it, for "run ... first"


TABLES = {  # DATASET_DIR/<name>.parquet
    "triplets": TableKind(schema.TRIPLETS, "atdkit extract"),
    "sources": TableKind(schema.SOURCES, "atdkit extract"),
    "shots": TableKind(schema.SHOTS, "atdkit extract"),
    "labels": TableKind(schema.LABELS, "atdkit consolidate"),
    "motion": TableKind(schema.MOTION, "atdkit stats"),
    "splits": TableKind(schema.SPLITS, "atdkit split"),
    "signatures": TableKind(schema.SIGNATURES, "atdkit audit"),
    "duplicates": TableKind(schema.DUPLICATES, "atdkit audit"),
    "source_groups": TableKind(schema.SOURCE_GROUPS, "atdkit audit"),
    "rebuilt": TableKind(schema.REBUILT, "atdkit rebuild"),
    "access_tokens": TableKind(schema.ACCESS_TOKENS, "atdkit annotate --issue-token"),
}


class DatasetBusyError(Exception):
    """Another atdkit process is writing to the same dataset."""


class DatasetError(Exception):
    """A dataset table that is missing or cannot be read; the message is one line naming the file."""


class Dataset:
    """One dataset folder: its tables, frames and per-film caches (docs/dataset.md)."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    frames_dir = property(lambda self: self.root / "frames")
    cache_dir = property(lambda self: self.root / "cache")

    def table_path(self, name: str) -> Path:
        """``DATASET_DIR/<name>.parquet`` for a table of :data:`TABLES`."""
        if name not in TABLES:
            raise KeyError(f"no dataset table called {name!r}; tables: {', '.join(TABLES)}")
        return self.root / f"{name}.parquet"

    def has(self, name: str) -> bool:
        return self.table_path(name).is_file()

    def read(self, name: str, required: bool = False) -> pa.Table | None:
        """The table ``name`` with its schema; None when absent and not ``required``; DatasetError otherwise."""
        path = self.table_path(name)
        if not path.is_file():
            if not self.root.is_dir():
                raise DatasetError(f"{self.root}: no such dataset folder")
            if required:
                raise DatasetError(f"{path}: no such file (run {TABLES[name].written_by} first)")
            return None
        try:
            return read_table(path, TABLES[name].schema)
        except (pa.ArrowException, OSError, ValueError) as error:
            raise DatasetError(f"{path}: not a readable {name} table ({first_line(error)})") from None

    def rows(self, name: str) -> list[dict]:
        """The rows of table ``name``, none when it is absent."""
        table = self.read(name)
        return [] if table is None else table.to_pylist()

    def write(self, name: str, rows: list[dict] | pa.Table, metadata: dict[bytes, bytes] | None = None) -> None:
        """Write table ``name`` atomically with its schema (and ``metadata`` in the schema)."""
        table_schema = TABLES[name].schema
        write_table(self.table_path(name), rows, table_schema.with_metadata(metadata) if metadata else table_schema)

    def triplet_dir(self, triplet_id: str) -> Path:
        return self.frames_dir / triplet_id

    def source_cache(self, source_id: str) -> Path:
        return self.cache_dir / source_id

    def cached_source_ids(self) -> list[str]:
        if not self.cache_dir.is_dir():
            return []
        return sorted(p.name for p in self.cache_dir.iterdir() if p.is_dir() and not p.name.startswith(TMP_PREFIX))

    @contextlib.contextmanager
    def writing(self) -> Iterator[Dataset]:
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


def write_table(path: Path, rows: list[dict] | pa.Table, table_schema: pa.Schema) -> None:
    """Write ``rows`` as Parquet with ``table_schema``, atomically."""
    table = rows if isinstance(rows, pa.Table) else pa.Table.from_pylist(rows, schema=table_schema)
    with atomic_path(path) as tmp:
        pq.write_table(table.cast(table_schema), tmp)


class TableWriter:
    """Rows appended in batches to a Parquet file that appears at ``path`` only on commit.

    Memory stays bounded however many rows a long film produces.
    """

    def __init__(self, path: Path, table_schema: pa.Schema, batch_rows: int = 8192):
        self.path, self.schema, self.batch_rows = path, table_schema, batch_rows
        path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = temporary_sibling(path)
        self._writer = pq.ParquetWriter(self._tmp, table_schema)
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


def read_table(path: Path, table_schema: pa.Schema) -> pa.Table:
    return pq.read_table(path, schema=table_schema)


def first_line(error: BaseException) -> str:
    """An exception's message cut to its first line (its type's name when it has none)."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def replace_dir(tmp: Path, final: Path) -> None:
    """Move a fully written temporary folder into place, replacing an older one."""
    if final.exists():
        remove(final)
    os.replace(tmp, final)
