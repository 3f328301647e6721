"""``atdkit export atd12k`` and ``atdkit import atd12k``: the official layout, written and read back."""

from __future__ import annotations

import datetime as dt
import json
import shutil

import cv2
import numpy as np
import pytest

from atdkit import schema
from atdkit.pipelines.formats.atd12k import JSON_FIELDS
from atdkit.pipelines.formats.atd12k_import import REVIEWER
from atdkit.pipelines.labels.annotations import ANNOTATIONS, REVIEWS, label_row, write_part
from atdkit.store import read_table
from helpers import run_cli

T0 = dt.datetime(2024, 5, 1, tzinfo=dt.timezone.utc)


@pytest.fixture
def labelled(cartoon_dataset, tmp_path):
    """A copy of the cartoon dataset with consolidated labels: 3 triplets kept, 1 not kept, 1 kept but tied."""
    root = tmp_path / "dataset"
    shutil.copytree(cartoon_dataset, root)
    ids = read_table(root / "triplets.parquet", schema.TRIPLETS)["triplet_id"].to_pylist()
    plan = [
        (ids[0], ("easy", (10.4, 20.6, 100, 60)), ("easy", (12.4, 20.6, 100, 60)), ["translation"], ["walking"]),
        (ids[1], ("hard", (0, 0, 320, 180)), ("hard", (0, 0, 320, 180)), ["rotation", "scaling"], []),
        (ids[2], ("medium", (50, 50, 30, 30)), ("medium", (50, 50, 30, 30)), [], ["others"]),
        (ids[4], ("easy", (5, 5, 20, 20)), ("hard", (5, 5, 20, 20)), [], []),
    ]
    for minute, (triplet, (level_a, box_a), (level_b, box_b), motion, behavior) in enumerate(plan):
        for who, level, box in (("alice", level_a, box_a), ("bob", level_b, box_b)):
            write_part(
                root,
                ANNOTATIONS,
                who,
                [
                    label_row(
                        triplet,
                        who,
                        True,
                        difficulty=level,
                        roi=box,
                        general_motion=motion,
                        behavior=behavior,
                        created_at=T0 + dt.timedelta(minutes=minute),
                    )
                ],
            )
    write_part(root, ANNOTATIONS, "alice", [label_row(ids[3], "alice", True, difficulty="easy", created_at=T0)])
    write_part(root, ANNOTATIONS, "bob", [label_row(ids[3], "bob", False, reason="other", created_at=T0)])
    assert run_cli("consolidate", root).returncode == 0
    return root, ids


def labels_of(root) -> dict[str, dict]:
    return {r["triplet_id"]: r for r in read_table(root / "labels.parquet", schema.LABELS).to_pylist()}


@pytest.mark.slow
def test_export_writes_the_official_layout_then_import_round_trips_the_labels(labelled, tmp_path):
    root, ids = labelled
    out, coco = tmp_path / "atd", tmp_path / "boxes.json"
    result = run_cli("export", "atd12k", root, out, "--coco", coco)
    assert result.returncode == 1  # the tied triplet is left out, and said so
    [problem] = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert ids[4] in problem and "no difficulty" in problem and "adjudication page" in problem
    exported = sorted(p.name for p in (out / "test_2k_annotations").iterdir())
    assert exported == sorted(ids[:3])

    name = ids[0]
    document = json.loads((out / "test_2k_annotations" / name / f"{name}.json").read_text())
    assert tuple(document) == JSON_FIELDS
    assert document == {
        "level": 0,
        "motion_RoI": {"x": 11, "y": 21, "width": 100, "height": 60},
        "image_size": [320, 180],
        "general_motion_type": ["translation"],
        "behavior": ["walking"],
    }
    assert json.loads((out / "test_2k_annotations" / ids[1] / f"{ids[1]}.json").read_text())["level"] == 2
    stored = cv2.imread(str(root / "frames" / name / "frame2.png"))
    small = cv2.imread(str(out / "test_2k_540p" / name / "frame2.png"))
    original = cv2.imread(str(out / "test_2k_original" / name / "frame2.jpg"))
    assert small.shape == (540, 960, 3) and original.shape == stored.shape
    assert np.abs(original.astype(int) - stored).mean() < 2  # JPEG quality 95
    boxes = json.loads(coco.read_text())
    assert len(boxes["images"]) == len(boxes["annotations"]) == 3
    first = next(a for a, i in zip(boxes["annotations"], boxes["images"]) if name in i["file_name"])
    assert first["bbox"] == [11, 21, 100, 60] and first["area"] == 6000 and first["category_id"] == 1

    again = run_cli("export", "atd12k", root, out)
    assert "0 written, 3 already there" in again.stderr

    imported = tmp_path / "imported"
    result = run_cli("import", "atd12k", out, imported)
    assert result.returncode == 0, result.stderr
    triplets = {r["triplet_id"]: r for r in read_table(imported / "triplets.parquet", schema.TRIPLETS).to_pylist()}
    assert sorted(triplets) == sorted(ids[:3])
    assert (triplets[name]["width"], triplets[name]["height"], triplets[name]["source_id"]) == (320, 180, name)
    assert 0 < triplets[name]["ssim_12"] <= 1
    assert cv2.imread(str(imported / "frames" / name / "frame1.png")).shape == stored.shape
    before, after = labels_of(root), labels_of(imported)
    assert sorted(after) == sorted(ids[:3])
    for triplet in ids[:3]:
        assert after[triplet]["kept"] and not after[triplet]["needs_review"]
        for column in ("difficulty", "general_motion", "behavior"):
            assert after[triplet][column] == before[triplet][column]
        for column in ("roi_x", "roi_y", "roi_w", "roi_h"):
            assert after[triplet][column] == pytest.approx(before[triplet][column], abs=0.5)  # whole pixels in the JSON
    # the official labels are the review of a reserved reviewer, so consolidating again keeps them
    assert run_cli("consolidate", imported).returncode == 0
    assert labels_of(imported) == after
    again = run_cli("import", "atd12k", out, imported)
    assert again.returncode == 0 and "0 written, 3 already there" in again.stderr
    assert len(list((imported / REVIEWS / REVIEWER).iterdir())) == 1  # unchanged labels are not written again


def test_import_accepts_the_official_variants_and_reports_bad_files(tmp_path):
    atd = tmp_path / "atd"
    frame = np.full((540, 960, 3), 90, np.uint8)
    cv2.circle(frame, (300, 200), 60, (20, 200, 240), -1)

    def triplet(subset: str, name: str, ext: str, size=(1920, 1080), count=3):
        folder = atd / subset / name
        folder.mkdir(parents=True)
        for n in range(1, count + 1):
            cv2.imwrite(str(folder / f"frame{n}.{ext}"), cv2.resize(np.roll(frame, 8 * n, axis=1), size))

    def annotation(name: str, document) -> None:
        (atd / "test_2k_annotations" / name).mkdir(parents=True)
        (atd / "test_2k_annotations" / name / f"{name}.json").write_text(json.dumps(document))

    triplet("test_2k_original", "Disney_v4_0_000024_s2", "jpg")
    annotation(
        "Disney_v4_0_000024_s2",
        {
            "level": 1,
            "motion_RoI": {"x": 192, "y": 108, "width": 384, "height": 216},
            "image_size": [1920, 1080],
            "general_motion_type": "Rotation",
            "behavior": ["speaking", "dancing"],
            "comment": "unknown field",
        },
    )
    triplet("test_2k_540p", "Japan_v2_0_161238_s3", "png", size=(960, 540))  # no original: the 540p frames
    annotation(
        "Japan_v2_0_161238_s3",
        {
            "level": 2,
            "motion_RoI": {"x": 192, "y": 108, "width": 384, "height": 216},
            "image_size": [1920, 1080],
            "general_motion_type": ["translation"],
            "behavior": "others",
        },
    )
    triplet("test_2k_original", "Japan_v1_1_000100_s1", "jpg")
    annotation("Japan_v1_1_000100_s1", {"level": 7, "motion_RoI": {"x": 0, "y": 0, "width": 10, "height": 10}})
    triplet("test_2k_original", "Disney_v1_0_000001_s1", "jpg", count=2)
    triplet("train_10k", "Disney_v9_0_000500_s2", "jpg", size=(640, 360))

    result = run_cli("import", "atd12k", atd, tmp_path / "dataset")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 2, result.stderr
    assert any("Disney_v1_0_000001_s1: frame1, frame2 and frame3" in line for line in errors)
    assert any("Japan_v1_1_000100_s1.json: level must be 0, 1 or 2, got 7" in line for line in errors)
    assert "unknown field(s) comment ignored" in result.stderr and "behavior: dancing not one of" in result.stderr

    triplets = {
        r["triplet_id"]: r for r in read_table(tmp_path / "dataset" / "triplets.parquet", schema.TRIPLETS).to_pylist()
    }
    assert sorted(triplets) == [
        "Disney_v4_0_000024_s2",
        "Disney_v9_0_000500_s2",
        "Japan_v1_1_000100_s1",
        "Japan_v2_0_161238_s3",
    ]
    assert (triplets["Disney_v4_0_000024_s2"]["source_id"], triplets["Disney_v4_0_000024_s2"]["series"]) == (
        "Disney_v4_0",
        "Disney",
    )
    assert (triplets["Japan_v2_0_161238_s3"]["width"], triplets["Disney_v9_0_000500_s2"]["width"]) == (960, 640)
    labels = labels_of(tmp_path / "dataset")
    assert sorted(labels) == ["Disney_v4_0_000024_s2", "Japan_v2_0_161238_s3"]  # train triplets have no labels
    disney, japan = labels["Disney_v4_0_000024_s2"], labels["Japan_v2_0_161238_s3"]
    assert (disney["difficulty"], disney["general_motion"], disney["behavior"]) == (
        "medium",
        ["rotation"],
        ["speaking"],
    )
    assert (disney["roi_x"], disney["roi_w"]) == (192, 384)
    assert (japan["difficulty"], japan["behavior"]) == ("hard", ["others"])
    assert (japan["roi_x"], japan["roi_y"], japan["roi_w"], japan["roi_h"]) == (
        96,
        54,
        192,
        108,
    )  # scaled to the 540p frames


def test_import_refuses_an_extracted_dataset_and_export_needs_labels(cartoon_dataset, tmp_path):
    root = tmp_path / "dataset"
    shutil.copytree(cartoon_dataset, root)
    (tmp_path / "atd" / "test_2k_original").mkdir(parents=True)
    result = run_cli("import", "atd12k", tmp_path / "atd", root)
    assert result.returncode == 2 and "import ATD-12K into a new folder" in result.stderr
    result = run_cli("export", "atd12k", root, tmp_path / "out")
    assert result.returncode == 2 and "run atdkit consolidate" in result.stderr
    result = run_cli("import", "atd12k", tmp_path / "nothing", tmp_path / "new")
    assert result.returncode == 2 and "not the ATD-12K layout" in result.stderr
