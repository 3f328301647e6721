"""``atdkit audit`` end to end: signatures, near-duplicate pairs, groups, leakage across the split.

Writes ``duplicates.parquet`` (every triplet with a near-duplicate, its group and its distance to its
closest match) and ``source_groups.parquet`` (every film's content group), the threshold recorded in
their schema metadata; ``signatures.parquet`` caches the signatures.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from atdkit.pipelines.audit.groups import content_groups, triplet_groups
from atdkit.pipelines.audit.index import near_pairs
from atdkit.pipelines.audit.signature import dataset_signatures
from atdkit.store import Dataset

THRESHOLD = 12  # bits of 192: see docs/audit.md for what re-encodes, resizes, colour shifts and other shots measure


@dataclass(frozen=True)
class Pair:
    first: str  # triplet ids, first < second
    second: str
    distance: int


@dataclass
class AuditReport:
    threshold: int
    triplets: int
    hashed: int  # signatures computed in this run (the others came from the cache)
    unreadable: list[str]  # triplets whose frames are missing or unreadable: not audited
    pairs: list[Pair]  # every near-duplicate pair, closest first
    duplicates: pa.Table  # DUPLICATES
    source_of: dict[str, str]  # triplet id -> source id
    content_group: dict[str, int]  # source id -> content group
    side_of: dict[str, str] | None  # triplet id -> split side; None without a split
    seconds: float = 0.0
    set_aside: list[str] = field(default_factory=list)  # by --dedup

    def members(self) -> dict[int, list[str]]:
        """Group -> its triplet ids."""
        groups = defaultdict(list)
        for triplet_id, group in zip(self.duplicates["triplet_id"].to_pylist(), self.duplicates["group"].to_pylist()):
            groups[group].append(triplet_id)
        return dict(groups)

    def shared_content(self) -> list[list[str]]:
        """Content groups of more than one film, as their films."""
        films = defaultdict(list)
        for source_id, group in sorted(self.content_group.items()):
            films[group].append(source_id)
        return [f for f in films.values() if len(f) > 1]

    @property
    def leaks(self) -> list[Pair]:
        """Near-duplicate pairs with one triplet on each side of the split."""
        if self.side_of is None:
            return []
        return [p for p in self.pairs if {self.side_of.get(p.first), self.side_of.get(p.second)} == {"train", "test"}]


def metadata(threshold: int) -> dict[bytes, bytes]:
    return {b"atdkit.audit": json.dumps({"threshold": threshold}).encode()}


def recorded_threshold(dataset: Dataset) -> int | None:
    """The threshold ``duplicates.parquet`` was made with, when it records it."""
    recorded = (pq.read_schema(dataset.table_path("duplicates")).metadata or {}).get(b"atdkit.audit")
    return json.loads(recorded)["threshold"] if recorded else None


def audit_dataset(
    dataset: Dataset, threshold: int = THRESHOLD, workers: int = 2, advance=lambda n: None
) -> AuditReport:
    """Find the near-duplicates among ``dataset``'s triplets and write the audit tables (holds the write lock)."""
    start = time.perf_counter()
    triplets = dataset.read("triplets", required=True).sort_by("triplet_id")
    sources = dataset.read("sources")
    splits = dataset.read("splits")
    ids, source_ids = triplets["triplet_id"].to_pylist(), triplets["source_id"].to_pylist()
    with dataset.writing():
        signatures, unreadable, hashed = dataset_signatures(dataset, ids, workers, advance)
        audited = np.array([t not in set(unreadable) for t in ids], bool)
        rows = np.flatnonzero(audited)
        i, j, d = near_pairs(signatures[rows], threshold)
        i, j = rows[i], rows[j]
        group, closest = triplet_groups(len(ids), i, j, d)
        grouped = group >= 0
        duplicates = pa.table(
            {
                "triplet_id": pa.array([t for t, g in zip(ids, grouped) if g], pa.string()),
                "group": pa.array(group[grouped], pa.int64()),
                "distance": pa.array(closest[grouped], pa.int32()),
            }
        )
        films = sorted(set(source_ids) | set(sources["source_id"].to_pylist() if sources is not None else ()))
        content = content_groups(films, [(source_ids[a], source_ids[b]) for a, b in zip(i.tolist(), j.tolist())])
        dataset.write("duplicates", duplicates, metadata(threshold))
        dataset.write(
            "source_groups",
            pa.table({"source_id": films, "content_group": pa.array([content[f] for f in films], pa.int64())}),
            metadata(threshold),
        )
    order = np.lexsort((j, i, d))
    return AuditReport(
        threshold,
        len(ids),
        hashed,
        sorted(unreadable),
        [Pair(ids[a], ids[b], int(c)) for a, b, c in zip(i[order], j[order], d[order])],
        duplicates,
        dict(zip(ids, source_ids)),
        content,
        dict(zip(splits["triplet_id"].to_pylist(), splits["split"].to_pylist())) if splits is not None else None,
        time.perf_counter() - start,
    )
