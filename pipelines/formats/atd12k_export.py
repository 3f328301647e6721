"""``atdkit export atd12k DATASET_DIR OUT_DIR``: the kept triplets of ``labels.parquet`` in the official layout.

Each kept triplet is written as ``test_2k_540p/<id>/frame{1,2,3}.png`` (960x540),
``test_2k_original/<id>/frame{1,2,3}.jpg`` (stored size, JPEG quality 95, as the release) and
``test_2k_annotations/<id>/<id>.json``; with ``coco`` the RoI boxes are also written as COCO.
Each triplet folder is written under a temporary name and renamed, the JSON last: a triplet
already there is skipped, so an interrupted run resumes.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from atdkit.images import ImageError, encode, read_rgb, resize
from atdkit.pipelines.formats.atd12k import SIZE_540P, TEST_540P, TEST_ANNOTATIONS, TEST_ORIGINAL, annotation_json
from atdkit.store import Dataset, remove, replace_dir, temporary_sibling, write_file


@dataclass
class Report:
    written: int = 0  # triplets written by this run
    skipped: int = 0  # already there from an earlier run
    problems: list[str] = field(default_factory=list)  # one line per triplet or file left out
    notes: list[str] = field(default_factory=list)  # things worth knowing that did not stop anything


def write_folder(final: Path, files: dict[str, bytes | np.ndarray]) -> None:
    """A folder of images (RGB arrays, encoded by their file's suffix) and texts (bytes), renamed
    into place when whole."""
    tmp = temporary_sibling(final)
    remove(tmp)  # a leftover of a killed run, if any
    tmp.mkdir(parents=True)
    for name, content in files.items():
        (tmp / name).write_bytes(content if isinstance(content, bytes) else encode(content, Path(name).suffix))
    replace_dir(tmp, final)


def _document(label: dict, image_size: tuple[int, int]) -> str:
    roi = tuple(label[k] for k in ("roi_x", "roi_y", "roi_w", "roi_h"))
    return annotation_json(label["difficulty"], roi, image_size, label["general_motion"], label["behavior"])


def _export_one(dataset: Dataset, out: Path, label: dict, size: tuple[int, int]) -> bool:
    """Write one triplet; False when it was already there, identical."""
    name = label["triplet_id"]
    document = _document(label, size).encode()
    json_path = out / TEST_ANNOTATIONS / name / f"{name}.json"
    complete = all(
        (out / sub / name / f"frame{n}.{ext}").is_file()
        for sub, ext in ((TEST_540P, "png"), (TEST_ORIGINAL, "jpg"))
        for n in (1, 2, 3)
    )
    if complete and json_path.is_file() and json_path.read_bytes() == document:
        return False
    frames = [read_rgb(dataset.triplet_dir(name) / f"frame{n}.png") for n in (1, 2, 3)]
    write_folder(out / TEST_540P / name, {f"frame{n}.png": resize(f, SIZE_540P) for n, f in enumerate(frames, 1)})
    write_folder(out / TEST_ORIGINAL / name, {f"frame{n}.jpg": f for n, f in enumerate(frames, 1)})
    write_folder(out / TEST_ANNOTATIONS / name, {f"{name}.json": document})  # last: the triplet's done-marker
    return True


def coco_document(exported: list[tuple[dict, tuple[int, int]]]) -> dict:
    """The RoI boxes as COCO detection annotations on ``test_2k_original/<id>/frame2.jpg``."""
    images, boxes = [], []
    for number, (label, size) in enumerate(exported, start=1):
        document = json.loads(_document(label, size))
        roi = document["motion_RoI"]
        images.append(
            {
                "id": number,
                "file_name": f"{TEST_ORIGINAL}/{label['triplet_id']}/frame2.jpg",
                "width": size[0],
                "height": size[1],
            }
        )
        boxes.append(
            {
                "id": number,
                "image_id": number,
                "category_id": 1,
                "iscrowd": 0,
                "bbox": [roi["x"], roi["y"], roi["width"], roi["height"]],
                "area": roi["width"] * roi["height"],
                "level": document["level"],
                "general_motion_type": document["general_motion_type"],
                "behavior": document["behavior"],
            }
        )
    return {
        "info": {"description": "ATD-12K style motion RoI boxes exported by atdkit"},
        "images": images,
        "annotations": boxes,
        "categories": [{"id": 1, "name": "motion_roi", "supercategory": "motion"}],
    }


def export(dataset: Dataset, out: Path, coco: Path | None = None, workers: int = 2) -> Report:
    """Write the kept, fully labelled triplets of ``dataset`` in the official layout under ``out``.

    DatasetError when triplets.parquet or labels.parquet is missing or unreadable."""
    triplets = {r["triplet_id"]: r for r in dataset.read("triplets", required=True).to_pylist()}
    report, ready = Report(), []
    for label in dataset.read("labels", required=True).to_pylist():
        name = label["triplet_id"]
        if not label["kept"]:
            continue
        if name not in triplets:
            report.problems.append(
                f"{name}: in labels.parquet but not in triplets.parquet (run atdkit consolidate again)"
            )
        elif label["difficulty"] is None or label["roi_x"] is None:
            missing = " and ".join(
                w for w, v in (("difficulty", label["difficulty"]), ("RoI", label["roi_x"])) if v is None
            )
            why = (
                "the annotators disagree: settle it on the adjudication page"
                if label["needs_review"]
                else "nobody gave one"
            )
            report.problems.append(f"{name}: no {missing} ({why}); not exported")
        else:
            ready.append((label, (triplets[name]["width"], triplets[name]["height"])))
    out.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(workers) as pool:
        futures = [pool.submit(_export_one, dataset, out, label, size) for label, size in ready]
        exported = []
        for (label, size), future in zip(ready, futures):
            try:
                wrote = future.result()
            except (OSError, ImageError) as error:
                report.problems.append(f"{label['triplet_id']}: {error}")
                continue
            report.written += wrote
            report.skipped += not wrote
            exported.append((label, size))
    names = {label["triplet_id"] for label, _ in exported}
    folders = (out / TEST_ANNOTATIONS).iterdir() if (out / TEST_ANNOTATIONS).is_dir() else ()
    others = sorted(p.name for p in folders if p.is_dir() and p.name not in names and not p.name.startswith("."))
    if others:
        report.notes.append(
            f"{out / TEST_ANNOTATIONS}: {len(others)} triplet(s) not in this export are left as they were "
            f"(e.g. {others[0]})"
        )
    if coco is not None:
        write_file(coco, json.dumps(coco_document(exported), indent=1) + "\n")
    return report
