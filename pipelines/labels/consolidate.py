"""``atdkit consolidate``: the annotators' latest answers -> ``labels.parquet`` and agreement figures.

Rules (paper, section 3.1, and README "Consolidation"):
- ``kept``: eligible by at least two annotators.
- ``difficulty``: the level most annotators who called the triplet eligible chose; a tie
  leaves it null and flags the triplet.
- RoI: the mean box when every pair of the eligible annotators' boxes overlaps with
  IoU >= 0.5; otherwise null and flagged. One box alone is taken as it is.
- tags: those chosen by more than half of the annotators who called the triplet eligible.
- A reviewer's latest label (``reviews/``) replaces all of that: its values are final and
  the triplet no longer needs review.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
from sklearn.metrics import cohen_kappa_score

from atdkit import schema
from atdkit.pipelines.labels import annotations
from atdkit.store import Dataset

IOU_AGREED = 0.5
BOX = ("roi_x", "roi_y", "roi_w", "roi_h")


def box_of(row: dict) -> tuple[float, float, float, float] | None:
    return None if row["roi_x"] is None else tuple(row[k] for k in BOX)


def iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """Intersection over union of two (x, y, w, h) boxes."""
    width = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    height = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    inter = max(0.0, width) * max(0.0, height)
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def merge_boxes(boxes: list[tuple[float, ...]]) -> tuple[tuple[float, ...] | None, bool]:
    """(merged box or None, agreed): the mean box when every pair has IoU >= 0.5."""
    if not boxes:
        return None, True
    if all(iou(a, b) >= IOU_AGREED for a, b in itertools.combinations(boxes, 2)):
        return tuple(float(v) for v in np.mean(boxes, axis=0)), True
    return None, False


def majority_difficulty(levels: list[str]) -> tuple[str | None, bool]:
    """(most chosen difficulty or None, agreed): a tie for first place is not agreed."""
    counts = Counter(levels).most_common()
    if not counts:
        return None, True
    if len(counts) > 1 and counts[0][1] == counts[1][1]:
        return None, False
    return counts[0][0], True


def majority_tags(choices: list[list[str]], vocabulary: tuple[str, ...]) -> list[str]:
    counts = Counter(tag for tags in choices for tag in set(tags))
    return [tag for tag in vocabulary if counts[tag] * 2 > len(choices)]


def consolidate_triplet(triplet_id: str, answers: list[dict], review: dict | None) -> dict:
    """One LABELS row from the annotators' latest ``answers`` and the latest ``review``."""
    eligible = [a for a in answers if a["eligible"]]
    row = {"triplet_id": triplet_id, "n_labels": len(answers), "n_eligible": len(eligible)}
    if review is not None:
        final = review if review["eligible"] else {**review, "difficulty": None, **dict.fromkeys(BOX)}
        return {
            **row,
            "kept": review["eligible"],
            "difficulty": final["difficulty"],
            **{k: final[k] for k in BOX},
            "general_motion": final["general_motion"] or [],
            "behavior": final["behavior"] or [],
            "needs_review": False,
        }
    kept = len(eligible) >= 2
    difficulty, difficulty_agreed = majority_difficulty([a["difficulty"] for a in eligible if a["difficulty"]])
    box, box_agreed = merge_boxes([box_of(a) for a in eligible if box_of(a)])
    return {
        **row,
        "kept": kept,
        "difficulty": difficulty,
        **dict(zip(BOX, box or (None,) * 4)),
        "general_motion": majority_tags([a["general_motion"] for a in eligible], schema.GENERAL_MOTIONS),
        "behavior": majority_tags([a["behavior"] for a in eligible], schema.BEHAVIORS),
        "needs_review": kept and not (difficulty_agreed and box_agreed),
    }


@dataclass
class PairAgreement:
    """How two annotators agree on the triplets both labelled (NaN where undefined)."""

    first: str
    second: str
    shared: int  # triplets both labelled
    eligibility_kappa: float
    difficulty_pairs: int  # triplets both called eligible and rated
    difficulty_kappa: float  # quadratic weights
    roi_pairs: int  # triplets both drew a box on
    mean_iou: float
    share_iou_agreed: float  # share of those with IoU >= 0.5


def _kappa(a: list, b: list, **options) -> float:
    if not a:
        return math.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # one class only: scikit-learn warns and returns NaN
        return float(cohen_kappa_score(a, b, **options))


def agreement(answers: list[dict]) -> list[PairAgreement]:
    """Cohen's kappa (eligibility), quadratic-weighted kappa (difficulty) and RoI IoU per annotator pair."""
    by_person: dict[str, dict[str, dict]] = {}
    for answer in answers:
        by_person.setdefault(answer["annotator"], {})[answer["triplet_id"]] = answer
    pairs = []
    for first, second in itertools.combinations(sorted(by_person), 2):
        shared = sorted(set(by_person[first]) & set(by_person[second]))
        both = [(by_person[first][t], by_person[second][t]) for t in shared]
        rated = [(a, b) for a, b in both if a["eligible"] and b["eligible"] and a["difficulty"] and b["difficulty"]]
        boxed = [(box_of(a), box_of(b)) for a, b in both if a["eligible"] and b["eligible"] and box_of(a) and box_of(b)]
        ious = [iou(a, b) for a, b in boxed]
        pairs.append(
            PairAgreement(
                first,
                second,
                len(shared),
                _kappa([a["eligible"] for a, _ in both], [b["eligible"] for _, b in both], labels=[False, True]),
                len(rated),
                _kappa(
                    [schema.DIFFICULTIES.index(a["difficulty"]) for a, _ in rated],
                    [schema.DIFFICULTIES.index(b["difficulty"]) for _, b in rated],
                    labels=[0, 1, 2],
                    weights="quadratic",
                ),
                len(boxed),
                float(np.mean(ious)) if ious else math.nan,
                float(np.mean([v >= IOU_AGREED for v in ious])) if ious else math.nan,
            )
        )
    return pairs


@dataclass
class Consolidation:
    labels: pa.Table  # LABELS
    agreement: list[PairAgreement]
    answers: list[dict]  # every annotator's latest answer per triplet
    errors: list[str] = field(default_factory=list)  # one line per part or row left out


def gather(dataset: Dataset) -> Consolidation:
    """Read every part and consolidate, without writing anything."""
    known = set(dataset.read("triplets", required=True)["triplet_id"].to_pylist())
    labelled, errors = annotations.read_all(dataset.root, annotations.ANNOTATIONS)
    reviewed, review_errors = annotations.read_all(dataset.root, annotations.REVIEWS)
    result = consolidate_tables(known, labelled, reviewed, where=str(dataset.table_path("triplets")))
    result.errors[:0] = errors + review_errors
    return result


def consolidate_tables(
    known: set[str], labelled: pa.Table, reviewed: pa.Table, where: str = "triplets.parquet"
) -> Consolidation:
    """Consolidate annotation and review rows (ANNOTATIONS, in time order) of the triplets ``known``."""
    answers, reviews, errors = [], {}, []
    for kind, rows in (("annotation", annotations.latest(labelled)), ("review", annotations.latest(reviewed))):
        for row in rows:
            if row["triplet_id"] not in known:
                errors.append(f"{kind} by {row['annotator']} for {row['triplet_id']!r}: no such triplet in {where}")
            elif kind == "annotation":
                answers.append(row)
            elif row["triplet_id"] not in reviews or row["created_at"] > reviews[row["triplet_id"]]["created_at"]:
                reviews[row["triplet_id"]] = row  # the latest review of any reviewer wins
    by_triplet: dict[str, list[dict]] = {}
    for answer in answers:
        by_triplet.setdefault(answer["triplet_id"], []).append(answer)
    rows = [
        consolidate_triplet(t, by_triplet.get(t, []), reviews.get(t)) for t in sorted(set(by_triplet) | set(reviews))
    ]
    return Consolidation(pa.Table.from_pylist(rows, schema=schema.LABELS), agreement(answers), answers, errors)


def consolidate(dataset: Dataset) -> Consolidation:
    """:func:`gather`, then write ``labels.parquet`` atomically; DatasetError when triplets.parquet
    is missing or unreadable."""
    result = gather(dataset)
    dataset.write("labels", result.labels)
    return result
