"""``atdkit audit --dedup``: keep one film's triplets per near-duplicate group, set the others aside as rejections.

Content shared across films is kept once: in each group, the triplets of one film stay, those of
every other film are set aside. The film kept is the one whose copy is largest (saved width x
height), then the one with the most triplets in the group, then the first by id. Near-duplicates
within one film (a held shot where only a mouth moves chains several of them into a group) are left
to extraction's redundancy policy (``--min-gap``, ``--min-change``). Those set aside leave
``triplets.parquet`` and their film's kept triplets (``cache/<source_id>/triplets.parquet``), and
their candidate's verdict in ``cache/<source_id>/candidates.parquet`` becomes ``duplicate``, as
extraction records its own rejections with their reason. Nothing is deleted: frames stay on disk.
"""

from __future__ import annotations

from collections import defaultdict

import pyarrow as pa
import pyarrow.compute as pc

from atdkit import schema
from atdkit.store import Dataset, read_table, write_table


class DedupError(Exception):
    """Duplicates that cannot be set aside as rejections; the message is one line."""


def set_aside(triplets: pa.Table, duplicates: pa.Table) -> list[str]:
    """The ids of the triplets to set aside: in each group, those of every film but the one kept."""
    facts = {r["triplet_id"]: r for r in triplets.select(["triplet_id", "source_id", "width", "height"]).to_pylist()}
    members = defaultdict(list)
    for triplet_id, group in zip(duplicates["triplet_id"].to_pylist(), duplicates["group"].to_pylist()):
        if triplet_id in facts:
            members[group].append(facts[triplet_id])
    aside = []
    for rows in members.values():
        films = defaultdict(list)
        for row in rows:
            films[row["source_id"]].append(row)

        kept = min(films, key=lambda film, films=films: _rank(film, films[film]))
        aside += [r["triplet_id"] for film, mine in films.items() if film != kept for r in mine]
    return sorted(aside)


def _rank(film: str, rows: list[dict]) -> tuple:
    """The film kept sorts first: largest frames, then most triplets in the group, then first by id."""
    return -max((r["width"] or 0) * (r["height"] or 0) for r in rows), -len(rows), film


def dedup(dataset: Dataset, triplets: pa.Table, duplicates: pa.Table) -> list[str]:
    """Set aside, in each group, the triplets of all films but one (the caller holds the write lock).

    Returns their ids; DedupError, before anything is written, when one cannot be recorded."""
    aside = set(set_aside(triplets, duplicates))
    rows = [r for r in triplets.to_pylist() if r["triplet_id"] in aside]
    by_source = defaultdict(list)
    for row in rows:
        by_source[row["source_id"]].append(row)
    caches = {}
    for source_id, mine in sorted(by_source.items()):
        folder = dataset.source_cache(source_id)
        paths = folder / "candidates.parquet", folder / "triplets.parquet"
        if not all(p.is_file() for p in paths):
            raise DedupError(
                f"{mine[0]['triplet_id']}: film {source_id} has no extraction cache ({paths[0]}), "
                "where --dedup records its rejections (a dataset from atdkit import?)"
            )
        candidates = read_table(paths[0], schema.CANDIDATES).to_pylist()
        position = {(c["start"], c["interval"]): k for k, c in enumerate(candidates) if c["verdict"] == "kept"}
        for row in mine:
            key = (row["frames"][0], row["interval"])
            if key not in position:
                raise DedupError(f"{row['triplet_id']}: not a kept candidate in {paths[0]}")
            candidates[position[key]]["verdict"] = schema.DUPLICATE_VERDICT
        caches[source_id] = (paths, candidates)
    for paths, candidates in caches.values():  # everything checked: now write
        write_table(paths[0], candidates, schema.CANDIDATES)
        kept = read_table(paths[1], schema.TRIPLETS)
        write_table(
            paths[1], kept.filter(pc.invert(pc.is_in(kept["triplet_id"], pa.array(sorted(aside))))), schema.TRIPLETS
        )
    dataset.write("triplets", triplets.filter(pc.invert(pc.is_in(triplets["triplet_id"], pa.array(sorted(aside))))))
    return sorted(aside)
