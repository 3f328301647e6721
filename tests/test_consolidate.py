"""Annotation parts and ``atdkit consolidate``: the paper's keep rule, merge rules, agreement, bad parts, compaction."""

from __future__ import annotations

import datetime as dt
import math
import shutil

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from atdkit import schema
from atdkit.pipelines.labels import annotations
from atdkit.pipelines.labels.annotations import ANNOTATIONS, REVIEWS, label_row, write_part
from atdkit.pipelines.labels.consolidate import agreement, iou, majority_difficulty, majority_tags, merge_boxes
from atdkit.store import read_table
from helpers import run_cli

T0 = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.timezone.utc)


def submit(root, who, triplet, eligible=True, minutes=0, kind=ANNOTATIONS, **values):
    row = label_row(triplet, who, eligible, created_at=T0 + dt.timedelta(minutes=minutes), **values)
    return write_part(root, kind, who, [row])


def labels_of(root) -> dict[str, dict]:
    return {r["triplet_id"]: r for r in read_table(root / "labels.parquet", schema.LABELS).to_pylist()}


def test_box_and_vote_rules():
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert iou((0, 0, 10, 10), (5, 0, 10, 10)) == pytest.approx(50 / 150)
    assert iou((0, 0, 10, 10), (20, 20, 5, 5)) == 0.0
    assert merge_boxes([(0, 0, 10, 10), (1, 1, 10, 10)]) == ((0.5, 0.5, 10.0, 10.0), True)
    assert merge_boxes([(0, 0, 10, 10), (5, 0, 10, 10)]) == (None, False)
    assert merge_boxes([(3, 4, 5, 6)]) == ((3.0, 4.0, 5.0, 6.0), True)
    assert majority_difficulty(["easy", "hard"]) == (None, False)
    assert majority_difficulty(["easy", "hard", "hard"]) == ("hard", True)
    assert majority_tags([["rotation", "scaling"], ["rotation"], []], schema.GENERAL_MOTIONS) == ["rotation"]
    assert majority_tags([["rotation"], []], schema.GENERAL_MOTIONS) == []


def test_label_rows_are_checked_against_the_vocabulary():
    with pytest.raises(ValueError, match="reason"):
        label_row("t", "alice", False)
    with pytest.raises(ValueError, match="difficulty"):
        label_row("t", "alice", True, difficulty="extreme")
    with pytest.raises(ValueError, match="general motion"):
        label_row("t", "alice", True, general_motion=["flying"])
    with pytest.raises(ValueError, match="person name"):
        label_row("t", "../alice", True)
    row = label_row("t", "alice", False, reason="scene transition", difficulty="hard", roi=(1, 2, 3, 4))
    assert (row["difficulty"], row["roi_x"], row["reason"]) == (None, None, "scene transition")


def test_consolidate_applies_the_keep_rule_the_merge_rules_and_reviews(dataset, ids):
    a, b, c, d, e = ids[:5]
    # a: both eligible, agreeing boxes and difficulty -> kept, mean box, majority tags
    submit(
        dataset,
        "alice",
        a,
        difficulty="hard",
        roi=(10, 10, 100, 50),
        general_motion=["rotation", "scaling"],
        behavior=["walking"],
    )
    submit(
        dataset, "bob", a, difficulty="hard", roi=(14, 10, 100, 54), general_motion=["rotation"], behavior=["walking"]
    )
    # b: one eligible only -> not kept
    submit(dataset, "alice", b, difficulty="easy")
    submit(dataset, "bob", b, False, reason="scene transition")
    # c: difficulty tie and boxes apart -> kept but flagged, both null
    submit(dataset, "alice", c, difficulty="easy", roi=(0, 0, 20, 20))
    submit(dataset, "bob", c, difficulty="hard", roi=(100, 100, 20, 20))
    # d: alice first said not eligible, then changed her mind: her latest answer wins
    submit(dataset, "alice", d, False, reason="other", minutes=1)
    submit(dataset, "alice", d, difficulty="medium", minutes=5)
    submit(dataset, "bob", d, difficulty="medium", minutes=2)
    # e: the annotators disagree, a reviewer decides (the latest review of any reviewer wins)
    submit(dataset, "alice", e, difficulty="easy")
    submit(dataset, "bob", e, False, reason="other")
    submit(dataset, "rita", e, difficulty="hard", roi=(5, 5, 10, 10), kind=REVIEWS, minutes=1)
    submit(dataset, "sam", e, difficulty="medium", roi=(6, 6, 10, 10), kind=REVIEWS, minutes=2)

    result = run_cli("consolidate", dataset)
    assert result.returncode == 0, result.stderr
    labels = labels_of(dataset)
    assert set(labels) == {a, b, c, d, e}
    assert labels[a]["kept"] and not labels[a]["needs_review"]
    assert (labels[a]["roi_x"], labels[a]["roi_y"], labels[a]["roi_w"], labels[a]["roi_h"]) == (12, 10, 100, 52)
    assert (labels[a]["difficulty"], labels[a]["general_motion"], labels[a]["behavior"]) == (
        "hard",
        ["rotation"],
        ["walking"],
    )
    assert (labels[b]["n_labels"], labels[b]["n_eligible"], labels[b]["kept"]) == (2, 1, False)
    assert (
        labels[c]["kept"]
        and labels[c]["needs_review"]
        and labels[c]["difficulty"] is None
        and labels[c]["roi_x"] is None
    )
    assert labels[d]["kept"] and labels[d]["difficulty"] == "medium"
    assert labels[e]["kept"] and not labels[e]["needs_review"]
    assert (labels[e]["difficulty"], labels[e]["roi_x"]) == ("medium", 6)
    # the history is kept: alice's two answers for d are both on disk
    table, errors = annotations.read_all(dataset)
    assert errors == [] and table.num_rows == 11
    assert "1 need review" in result.stderr and "alice / bob" in result.stderr


def test_agreement_figures_match_their_definitions():
    rows = []
    eligible_a = [True, True, True, False, False, True]
    eligible_b = [True, True, False, False, True, True]
    levels = {0: ("easy", "easy"), 1: ("medium", "hard"), 5: ("hard", "hard")}
    boxes = {0: ((0, 0, 10, 10), (0, 0, 10, 10)), 1: ((0, 0, 10, 10), (5, 0, 10, 10))}
    for i, (ea, eb) in enumerate(zip(eligible_a, eligible_b)):
        for who, eligible, side in (("ann", ea, 0), ("ben", eb, 1)):
            level = levels.get(i, ("easy", "easy"))[side] if eligible else None
            box = boxes[i][side] if i in boxes else None
            rows.append(
                label_row(f"t{i}", who, eligible, reason=None if eligible else "other", difficulty=level, roi=box)
            )
    [pair] = agreement(rows)
    # Cohen's kappa by hand: observed 4/6 agree; chance = (4/6 * 4/6) + (2/6 * 2/6)
    observed, chance = 4 / 6, (4 / 6) * (4 / 6) + (2 / 6) * (2 / 6)
    assert pair.shared == 6 and pair.eligibility_kappa == pytest.approx((observed - chance) / (1 - chance))
    # difficulty on the 3 triplets both called eligible: (easy, easy), (medium, hard), (hard, hard)
    assert pair.difficulty_pairs == 3
    a, b = [0, 1, 2], [0, 2, 2]
    weights = [[(i - j) ** 2 / 4 for j in range(3)] for i in range(3)]
    observed_matrix = [[sum(1 for x, y in zip(a, b) if (x, y) == (i, j)) / 3 for j in range(3)] for i in range(3)]
    expected_matrix = [[a.count(i) / 3 * b.count(j) / 3 for j in range(3)] for i in range(3)]
    disagreement = sum(weights[i][j] * observed_matrix[i][j] for i in range(3) for j in range(3))
    by_chance = sum(weights[i][j] * expected_matrix[i][j] for i in range(3) for j in range(3))
    assert pair.difficulty_kappa == pytest.approx(1 - disagreement / by_chance)
    assert (pair.roi_pairs, pair.mean_iou, pair.share_iou_agreed) == (2, pytest.approx((1 + 50 / 150) / 2), 0.5)


def test_agreement_is_nan_where_undefined():
    rows = [label_row("t1", "ann", True, difficulty="easy"), label_row("t1", "ben", True, difficulty="easy")]
    [pair] = agreement(rows)
    assert math.isnan(pair.eligibility_kappa) and math.isnan(pair.mean_iou)


def test_parts_from_other_tools_are_read_and_bad_parts_are_reported(dataset, ids):
    foreign = pa.table(
        {
            "created_at": pa.array([dt.datetime(2024, 1, 1, 8)], pa.timestamp("ns")),  # no zone: taken as UTC
            "behavior": [["eating"]],
            "general_motion": [["translation"]],
            "roi_h": pa.array([20.0], pa.float32()),
            "roi_w": pa.array([30.0], pa.float32()),
            "roi_y": pa.array([2.0], pa.float32()),
            "roi_x": pa.array([1.0], pa.float32()),
            "difficulty": ["easy"],
            "reason": pa.array([None], pa.string()),
            "eligible": [True],
            "annotator": ["olga"],
            "triplet_id": [ids[0]],
            "tool_version": ["3.1"],
        }
    )
    (dataset / "annotations" / "olga").mkdir(parents=True)
    pq.write_table(foreign, dataset / "annotations" / "olga" / "from-other-tool.parquet")
    submit(dataset, "alice", ids[0], difficulty="easy", roi=(1, 2, 30, 20))
    bad = dataset / "annotations" / "mallory"
    bad.mkdir()
    pq.write_table(pa.table({"triplet_id": [ids[1]], "annotator": ["mallory"]}), bad / "missing-columns.parquet")
    (bad / "truncated.parquet").write_bytes(b"PAR1 not really")
    submit(dataset, "bob", "no_such_triplet", difficulty="easy")

    result = run_cli("consolidate", dataset)
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 3, result.stderr
    assert any("missing-columns.parquet: missing column(s)" in line for line in lines)
    assert any("truncated.parquet: not a readable Parquet file" in line for line in lines)
    assert any("'no_such_triplet': no such triplet" in line for line in lines)
    assert "Traceback" not in result.stderr
    label = labels_of(dataset)[ids[0]]
    assert label["kept"] and (label["roi_x"], label["roi_w"]) == (1.0, 30.0) and label["difficulty"] == "easy"


def test_compaction_keeps_every_row_and_survives_an_interruption(dataset, ids):
    for i, triplet in enumerate(ids[:6]):
        submit(dataset, "alice", triplet, difficulty="easy", minutes=i)
        submit(dataset, "bob", triplet, False, reason="other", minutes=i)
    submit(dataset, "rita", ids[0], difficulty="hard", kind=REVIEWS)
    submit(dataset, "rita", ids[1], difficulty="hard", kind=REVIEWS, minutes=1)
    before, _ = annotations.read_all(dataset)

    result = run_cli("annotations", "compact", dataset)
    assert result.returncode == 0, result.stderr
    assert "merged 14 part(s) into 3 (14 rows)" in result.stderr
    assert [len(list(p.iterdir())) for p in sorted((dataset / "annotations").iterdir())] == [1, 1]
    after, _ = annotations.read_all(dataset)
    assert after.equals(before)
    assert annotations.read_all(dataset, REVIEWS)[0].num_rows == 2

    # a compaction killed after writing its merged part but before removing the inputs: the copies are dropped
    merged = next((dataset / "annotations" / "alice").iterdir())
    shutil.copy(merged, merged.with_name("20240101T000000.000000Z-copy.parquet"))
    assert annotations.read_all(dataset)[0].equals(before)
    assert run_cli("annotations", "compact", dataset).returncode == 0
    assert annotations.read_all(dataset)[0].equals(before)
