"""Source-exclusive train/test split (paper, section 3): ``atdkit split`` -> ``DATASET_DIR/splits.parquet``.

The test set's sources are exclusive from the training set's. Triplets are grouped by film
(``--by source``) or by series (``--by series``; a film without a series label is a series
of its own), and whole groups go to one side. Candidate splits come from scikit-learn's
``GroupShuffleSplit`` (CANDIDATES shuffles for each number of test groups near
``test_fraction`` x groups, seeded by ``seed``); each is scored by

    |test share of triplets - test_fraction| + distance between the sides' difficulty mixes

where the distance is the total variation between the distributions of the human
difficulties in labels.parquet on either side (0 without labels). The lowest score wins,
the first on ties, so a seed always gives the same split.

Films that share content (``source_groups.parquet``, written by ``atdkit audit``: a copy, a
re-encode, a truncated file of one film) are kept on one side whatever ``--by`` says: the groups
holding films of one content group are merged before splitting. A merged group too large to
place (more than 1 - ``test_fraction`` of the triplets: the test side could not get its share)
is placed anyway, with a warning.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from sklearn.model_selection import GroupShuffleSplit

from atdkit import schema
from atdkit.pipelines.audit.groups import UnionFind
from atdkit.store import Dataset

CANDIDATES = 100  # shuffles tried per number of test groups
GROUPINGS = ("source", "series")


class SplitError(Exception):
    """A split that cannot be made as asked; the message says why."""


def groups_of(triplets: pa.Table, by: str) -> np.ndarray:
    sources = triplets["source_id"].to_pylist()
    if by == "source":
        return np.array(sources, dtype=object)
    if by == "series":
        series = triplets["series"].to_pylist()
        return np.array([s if s is not None else f"{f} (no series)" for s, f in zip(series, sources)], dtype=object)
    raise ValueError(f"--by must be one of {', '.join(GROUPINGS)}, got {by!r}")


def merge_content_groups(groups: np.ndarray, sources: list[str], content_group: dict[str, int]) -> np.ndarray:
    """``groups`` (per triplet) with every two groups that hold films of one content group merged;
    a merged group is named by its members joined with " + "."""
    names = sorted(set(groups.tolist()))
    position = {name: k for k, name in enumerate(names)}
    sets = UnionFind(len(names))
    first_of_content: dict[int, str] = {}
    for group, source in zip(groups.tolist(), sources, strict=True):
        if source in content_group:
            sets.union(position[group], position[first_of_content.setdefault(content_group[source], group)])
    merged = sets.labels()
    members: dict[int, list[str]] = {}
    for name in names:
        members.setdefault(merged[position[name]], []).append(name)
    return np.array([" + ".join(members[merged[position[g]]]) for g in groups.tolist()], dtype=object)


def _difficulty_mix(levels: np.ndarray) -> np.ndarray | None:
    known = levels[levels >= 0]
    return np.bincount(known, minlength=len(schema.DIFFICULTIES)) / len(known) if len(known) else None


def _score(test: np.ndarray, levels: np.ndarray, test_fraction: float) -> float:
    """How far a split (``test``: boolean per triplet) is from the asked share and from stratification."""
    share_error = abs(test.mean() - test_fraction)
    if not (levels >= 0).any():
        return share_error
    mixes = _difficulty_mix(levels[test]), _difficulty_mix(levels[~test])
    if mixes[0] is None or mixes[1] is None:
        return share_error + 1.0
    return share_error + 0.5 * float(np.abs(mixes[0] - mixes[1]).sum())


def choose_split(groups: np.ndarray, levels: np.ndarray, test_fraction: float, seed: int) -> np.ndarray:
    """Boolean per triplet: on the test side. ``levels``: human difficulty index, -1 when unlabelled."""
    if not 0 < test_fraction < 1:
        raise SplitError(f"--test-fraction must be between 0 and 1 (exclusive), got {test_fraction}")
    distinct = np.unique(groups)
    if len(distinct) < 2:
        raise SplitError(f"all {len(groups)} triplets belong to one group ({distinct[0] if len(distinct) else 'none'})")
    ideal = test_fraction * len(distinct)
    counts = range(max(1, math.floor(ideal) - 1), min(len(distinct) - 1, math.ceil(ideal) + 1) + 1)
    best, best_score = None, math.inf
    for count in counts:
        splitter = GroupShuffleSplit(n_splits=CANDIDATES, test_size=count, random_state=seed)
        for _, test_index in splitter.split(groups, groups=groups):
            test = np.zeros(len(groups), bool)
            test[test_index] = True
            score = _score(test, levels, test_fraction)
            if score < best_score - 1e-12:
                best, best_score = test, score
    return best


def human_levels(triplets: pa.Table, labels: pa.Table | None) -> np.ndarray:
    """Per triplet, the index of its human difficulty in DIFFICULTIES, or -1."""
    if labels is None:
        return np.full(triplets.num_rows, -1)
    difficulty = dict(zip(labels["triplet_id"].to_pylist(), labels["difficulty"].to_pylist()))
    return np.array(
        [
            schema.DIFFICULTIES.index(d) if (d := difficulty.get(t)) in schema.DIFFICULTIES else -1
            for t in triplets["triplet_id"].to_pylist()
        ],
        int,
    )


@dataclass
class SplitSettings:
    by: str = "source"
    test_fraction: float = 0.2
    seed: int = 0

    def metadata(self) -> dict[bytes, bytes]:
        return {
            b"atdkit.split": json.dumps(
                {"by": self.by, "test_fraction": self.test_fraction, "seed": self.seed}
            ).encode()
        }

    @classmethod
    def of_table(cls, dataset: Dataset) -> SplitSettings | None:
        """The settings splits.parquet was made with, when it records them."""
        recorded = (pq.read_schema(dataset.table_path("splits")).metadata or {}).get(b"atdkit.split")
        return cls(**json.loads(recorded)) if recorded else None


def content_of(dataset: Dataset) -> dict[str, int]:
    """Film -> content group, from ``source_groups.parquet`` (empty when ``atdkit audit`` has not run)."""
    table = dataset.read("source_groups")
    return {} if table is None else dict(zip(table["source_id"].to_pylist(), table["content_group"].to_pylist()))


def split_groups(dataset: Dataset, triplets: pa.Table, by: str) -> np.ndarray:
    """Per triplet, the group a split must keep on one side: its ``by`` group merged with those sharing content."""
    return merge_content_groups(groups_of(triplets, by), triplets["source_id"].to_pylist(), content_of(dataset))


def split_dataset(dataset: Dataset, settings: SplitSettings) -> tuple[pa.Table, list[str]]:
    """Split ``dataset``'s triplets and write ``splits.parquet``; returns the SPLITS table and warnings."""
    triplets = dataset.read("triplets", required=True)
    labels = dataset.read("labels")
    if triplets.num_rows == 0:
        raise SplitError(f"{dataset.table_path('triplets')}: no triplets to split")
    groups = groups_of(triplets, settings.by)
    distinct = sorted(set(groups))
    if len(distinct) < 2:
        hint = " (label films with atdkit extract --series or --series-map)" if settings.by == "series" else ""
        raise SplitError(
            f"{dataset.root}: all {len(groups)} triplets come from one {settings.by} "
            f"({distinct[0] if distinct else 'none'}): "
            f"a split with no {settings.by} on both sides needs at least two{hint}"
        )
    groups = split_groups(dataset, triplets, settings.by)
    merged = sorted(set(groups))
    if len(merged) < 2:
        raise SplitError(
            f"{dataset.root}: all {len(groups)} triplets belong to one content group ({merged[0]}): "
            "these films share content (source_groups.parquet, atdkit audit), so no split can keep it off one side"
        )
    warnings = []
    largest, size = max(((g, int((groups == g).sum())) for g in merged), key=lambda gs: gs[1])
    if size / len(groups) > 1 - settings.test_fraction:
        warnings.append(
            f"{largest} holds {size / len(groups):.0%} of the triplets, more than the train side's "
            f"{1 - settings.test_fraction:.0%}: the test side cannot get its {settings.test_fraction:.0%}"
        )
    test = choose_split(groups, human_levels(triplets, labels), settings.test_fraction, settings.seed)
    table = pa.table(
        {"triplet_id": triplets["triplet_id"], "split": pa.array(np.where(test, "test", "train").tolist())}
    )
    with dataset.writing():
        dataset.write("splits", table, settings.metadata())
    return table, warnings


@dataclass
class SideSummary:
    side: str
    triplets: int
    share: float
    groups: list[str]  # the films or series on this side
    difficulties: Counter  # human difficulty (or "unlabelled") -> triplets
    tags: Counter  # general motion or behaviour tag -> triplets


def summarise(triplets: pa.Table, splits: pa.Table, labels: pa.Table | None, by: str) -> list[SideSummary]:
    """What each side of a split holds: sizes, films or series, human difficulties and motion tags."""
    side_of = dict(zip(splits["triplet_id"].to_pylist(), splits["split"].to_pylist()))
    label_of = {row["triplet_id"]: row for row in labels.to_pylist()} if labels is not None else {}
    rows = [
        {"triplet_id": t, "group": g}
        for t, g in zip(triplets["triplet_id"].to_pylist(), groups_of(triplets, by))
        if t in side_of
    ]
    summaries = []
    for side in schema.SPLIT_SIDES:
        mine = [r for r in rows if side_of[r["triplet_id"]] == side]
        difficulties, tags = Counter(), Counter()
        for r in mine:
            label = label_of.get(r["triplet_id"])
            difficulties[(label or {}).get("difficulty") or "unlabelled"] += 1
            for tag in (label or {}).get("general_motion") or []:
                tags[tag] += 1
            for tag in (label or {}).get("behavior") or []:
                tags[tag] += 1
        groups = sorted({r["group"] for r in mine})
        summaries.append(
            SideSummary(side, len(mine), len(mine) / len(rows) if rows else 0.0, groups, difficulties, tags)
        )
    return summaries


def check_exclusive(
    triplets: pa.Table, splits: pa.Table, by: str, content_group: dict[str, int] | None = None
) -> list[str]:
    """Groups found on both sides (empty for a valid split); with ``content_group`` (film -> content
    group), groups sharing content count as one."""
    side_of = dict(zip(splits["triplet_id"].to_pylist(), splits["split"].to_pylist()))
    sides: dict[str, set] = {}
    groups = groups_of(triplets, by)
    if content_group:
        groups = merge_content_groups(groups, triplets["source_id"].to_pylist(), content_group)
    for triplet_id, group in zip(triplets["triplet_id"].to_pylist(), groups):
        if triplet_id in side_of:
            sides.setdefault(group, set()).add(side_of[triplet_id])
    return sorted(g for g, s in sides.items() if len(s) > 1)
