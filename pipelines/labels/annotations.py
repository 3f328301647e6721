"""Annotation parts: every submitted label is one small Parquet file that is never rewritten.

```
DATASET_DIR/annotations/<annotator>/<UTC time>-<uuid>.parquet   annotators' labels
DATASET_DIR/reviews/<reviewer>/<UTC time>-<uuid>.parquet        reviewers' final values
```

Both hold rows of :data:`atdkit.schema.ANNOTATIONS`. A part is written under a temporary
name, flushed to disk and renamed, so readers only ever see whole parts and writers in any
number of processes never touch the same file. A person's latest row for a triplet is
their answer; the older rows are the history. :func:`compact` merges a person's parts
into one without losing a row; readers drop the exact duplicates an interrupted
compaction can leave (same triplet, person and ``created_at``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import math
import os
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from atdkit import schema
from atdkit.store import TMP_PREFIX, atomic_path

ANNOTATIONS = "annotations"
REVIEWS = "reviews"
KINDS = (ANNOTATIONS, REVIEWS)
LOCK_NAME = ".annotations.lock"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


class PartError(Exception):
    """An annotation part that cannot be used; the message names the file and the problem."""


def check_name(name: str) -> str:
    """An annotator or reviewer name, safe as a folder name, or ValueError."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValueError(
            f"person name {name!r}: use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    return name


def label_row(
    triplet_id: str,
    person: str,
    eligible: bool,
    reason: str | None = None,
    difficulty: str | None = None,
    roi: tuple[float, float, float, float] | None = None,
    general_motion: list[str] | tuple[str, ...] = (),
    behavior: list[str] | tuple[str, ...] = (),
    created_at: dt.datetime | None = None,
) -> dict:
    """One ANNOTATIONS row, checked against the vocabulary (ValueError when it does not fit).

    A triplet judged not eligible keeps only its reason: difficulty, box and tags are dropped.
    """
    check_name(person)
    if eligible:
        reason = None
    elif reason not in schema.INELIGIBLE_REASONS:
        raise ValueError(
            f"a triplet that is not eligible needs a reason, one of {', '.join(schema.INELIGIBLE_REASONS)}"
        )
    else:
        difficulty, roi, general_motion, behavior = None, None, (), ()
    if difficulty is not None and difficulty not in schema.DIFFICULTIES:
        raise ValueError(f"difficulty {difficulty!r} is not one of {', '.join(schema.DIFFICULTIES)}")
    for name, tags, vocabulary in (
        ("general motion", general_motion, schema.GENERAL_MOTIONS),
        ("behavior", behavior, schema.BEHAVIORS),
    ):
        unknown = sorted(set(tags) - set(vocabulary))
        if unknown:
            raise ValueError(f"{name} tags {unknown} are not in {', '.join(vocabulary)}")
    if roi is not None and (len(roi) != 4 or not all(math.isfinite(v) for v in roi) or roi[2] <= 0 or roi[3] <= 0):
        raise ValueError(f"RoI {roi!r}: expected finite x, y and a positive width and height")
    x, y, w, h = (float(v) for v in roi) if roi is not None else (None,) * 4
    return {
        "triplet_id": triplet_id,
        "annotator": person,
        "eligible": bool(eligible),
        "reason": reason,
        "difficulty": difficulty,
        "roi_x": x,
        "roi_y": y,
        "roi_w": w,
        "roi_h": h,
        "general_motion": [t for t in schema.GENERAL_MOTIONS if t in general_motion],
        "behavior": [t for t in schema.BEHAVIORS if t in behavior],
        "created_at": created_at or dt.datetime.now(dt.timezone.utc),
    }


def person_dir(root: Path, kind: str, person: str) -> Path:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    return Path(root) / kind / check_name(person)


def part_name(created_at: dt.datetime) -> str:
    return f"{created_at.astimezone(dt.timezone.utc):%Y%m%dT%H%M%S.%fZ}-{uuid.uuid4().hex}.parquet"


def write_part(root: Path, kind: str, person: str, rows: list[dict] | pa.Table) -> Path:
    """Write ``rows`` as a new part of ``person``'s folder: durable and whole, or not there at all."""
    table = rows if isinstance(rows, pa.Table) else pa.Table.from_pylist(rows, schema=schema.ANNOTATIONS)
    stamps = table["created_at"].to_pylist()
    path = person_dir(root, kind, person) / part_name(max(stamps) if stamps else dt.datetime.now(dt.timezone.utc))
    with atomic_path(path) as tmp:
        pq.write_table(table.cast(schema.ANNOTATIONS), tmp)
        _fsync(tmp)
    _fsync(path.parent)
    return path


def _fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def part_paths(root: Path, kind: str) -> list[Path]:
    """Every finished part under ``root/kind``, sorted by person then name (= time)."""
    base = Path(root) / kind
    if not base.is_dir():
        return []
    paths = []
    for person in sorted(base.iterdir()):
        if person.is_dir() and _NAME.fullmatch(person.name):
            paths.extend(
                sorted(p for p in person.iterdir() if p.suffix == ".parquet" and not p.name.startswith(TMP_PREFIX))
            )
    return paths


def read_part(path: Path) -> pa.Table:
    """A part's rows in the ANNOTATIONS schema; PartError naming the file when it does not fit.

    Parts written by other tools are accepted when they have the columns, whatever their
    order, extra columns or compatible types (float32 boxes, timestamps in other units).
    """
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowException) as error:
        raise PartError(f"{path}: not a readable Parquet file ({error})") from None
    missing = [name for name in schema.ANNOTATIONS.names if name not in table.column_names]
    if missing:
        raise PartError(f"{path}: missing column(s) {', '.join(missing)}")
    table = table.select(schema.ANNOTATIONS.names)  # a timestamp without a zone is taken as UTC
    try:
        table = table.cast(schema.ANNOTATIONS)
    except (pa.ArrowException, ValueError) as error:
        raise PartError(f"{path}: columns of the wrong type ({error})") from None
    for number, row in enumerate(table.to_pylist(), start=1):
        problem = _row_problem(row)
        if problem:
            raise PartError(f"{path}: row {number}: {problem}")
    return table


def _row_problem(row: dict) -> str | None:
    if not row["triplet_id"]:
        return "empty triplet_id"
    if not row["annotator"] or not _NAME.fullmatch(row["annotator"]):
        return f"annotator {row['annotator']!r} is not a valid name"
    if row["eligible"] is None:
        return "eligible is null"
    if row["created_at"] is None:
        return "created_at is null"
    if not row["eligible"] and row["reason"] not in schema.INELIGIBLE_REASONS:
        return f"reason {row['reason']!r} is not one of {', '.join(schema.INELIGIBLE_REASONS)}"
    if row["difficulty"] is not None and row["difficulty"] not in schema.DIFFICULTIES:
        return f"difficulty {row['difficulty']!r} is not one of {', '.join(schema.DIFFICULTIES)}"
    box = [row[k] for k in ("roi_x", "roi_y", "roi_w", "roi_h")]
    if any(v is None for v in box) and any(v is not None for v in box):
        return "roi_x, roi_y, roi_w, roi_h must be all null or all set"
    if box[0] is not None and (not all(math.isfinite(v) for v in box) or box[2] <= 0 or box[3] <= 0):
        return f"RoI {box} needs finite values and a positive width and height"
    for column, vocabulary in (("general_motion", schema.GENERAL_MOTIONS), ("behavior", schema.BEHAVIORS)):
        unknown = sorted(set(row[column] or ()) - set(vocabulary))
        if unknown:
            return f"{column} {unknown} not in {', '.join(vocabulary)}"
    return None


@contextlib.contextmanager
def parts_lock(root: Path, exclusive: bool = False) -> Iterator[None]:
    """Readers share it, :func:`compact` holds it alone: a reader never sees a half-compacted folder."""
    Path(root).mkdir(parents=True, exist_ok=True)
    with open(Path(root) / LOCK_NAME, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def drop_duplicates(table: pa.Table) -> pa.Table:
    """Rows in time order, without the copies an interrupted compaction leaves."""
    seen, keep = set(), []
    rows = zip(
        table["triplet_id"].to_pylist(),
        table["annotator"].to_pylist(),
        table["created_at"].cast(pa.int64()).to_pylist(),
    )
    for index, key in enumerate(rows):
        if key not in seen:
            seen.add(key)
            keep.append(index)
    table = table.take(keep)
    return table.take(pc.sort_indices(table, [("created_at", "ascending")]))


@dataclass
class PartIndex:
    """All parts of one kind, read once each: :meth:`refresh` reads only parts that appeared.

    Parts are immutable, so a part already read is never read again; a part that disappeared
    (merged by :func:`compact`) is forgotten, and the merged part read instead.
    """

    root: Path
    kind: str = ANNOTATIONS
    errors: dict[Path, str] = field(default_factory=dict)
    _parts: dict[Path, pa.Table] = field(default_factory=dict)
    _table: pa.Table | None = None

    def refresh(self) -> pa.Table:
        with parts_lock(self.root):
            paths = part_paths(self.root, self.kind)
            current = set(paths)
            changed = bool(set(self._parts) - current)
            for path in list(self._parts):
                if path not in current:
                    del self._parts[path]
            for path in paths:
                if path in self._parts or path in self.errors:
                    continue
                try:
                    self._parts[path] = read_part(path)
                    changed = True
                except PartError as error:
                    self.errors[path] = str(error)
        if changed or self._table is None:
            tables = list(self._parts.values())
            self._table = drop_duplicates(pa.concat_tables(tables)) if tables else schema.ANNOTATIONS.empty_table()
        return self._table


def read_all(root: Path, kind: str = ANNOTATIONS) -> tuple[pa.Table, list[str]]:
    """Every row of ``kind`` in time order, and one line per part that could not be read."""
    index = PartIndex(Path(root), kind)
    return index.refresh(), list(index.errors.values())


def latest(table: pa.Table) -> list[dict]:
    """Each person's latest row per triplet (``table`` in time order)."""
    answers: dict[tuple[str, str], dict] = {}
    for row in table.to_pylist():
        answers[(row["triplet_id"], row["annotator"])] = row
    return list(answers.values())


@dataclass
class Compaction:
    merged: int = 0  # parts merged
    written: int = 0  # parts written
    rows: int = 0
    errors: list[str] = field(default_factory=list)


def compact(root: Path) -> Compaction:
    """Merge each person's parts into one part, keeping every row (unreadable parts are left alone)."""
    result = Compaction()
    with parts_lock(root, exclusive=True):
        for kind in KINDS:
            by_person: dict[Path, list[Path]] = {}
            for path in part_paths(root, kind):
                by_person.setdefault(path.parent, []).append(path)
            for folder, paths in by_person.items():
                tables, inputs = [], []
                for path in paths:
                    try:
                        tables.append(read_part(path))
                        inputs.append(path)
                    except PartError as error:
                        result.errors.append(str(error))
                if len(inputs) < 2:
                    continue
                merged = drop_duplicates(pa.concat_tables(tables))
                written = write_part(root, kind, folder.name, merged)
                for path in inputs:
                    if path != written:
                        path.unlink()
                result.merged += len(inputs)
                result.written += 1
                result.rows += merged.num_rows
    return result
