"""``atdkit import atd12k ATD_DIR DATASET_DIR``: the official layout as an atdkit dataset.

Frames come from ``test_2k_original/`` (or ``test_2k_540p/`` for a triplet without originals) and
``train_10k/``, saved as ``frames/<id>/frame{1,2,3}.png``; ``triplets.parquet`` gets a row per
triplet (source and series from the folder name, frame indices unknown, pair SSIMs measured as
extraction does); the official labels become the review of the reserved reviewer :data:`REVIEWER`
(so ``atdkit consolidate`` keeps them), then ``labels.parquet`` is written. Each triplet folder is
written under a temporary name and renamed; a triplet already there is skipped, so an interrupted
run resumes.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import pyarrow as pa

from atdkit import schema
from atdkit.images import ImageError, read_rgb, resize
from atdkit.pipelines.extraction.scan import ANALYSIS_BOX
from atdkit.pipelines.formats.atd12k import (
    TEST_540P,
    TEST_ANNOTATIONS,
    TEST_ORIGINAL,
    TRAIN,
    AnnotationError,
    frame_files,
    read_annotation,
    source_and_series,
    triplet_names,
)
from atdkit.pipelines.formats.atd12k_export import Report, write_folder
from atdkit.pipelines.labels import annotations
from atdkit.pipelines.labels.consolidate import consolidate
from atdkit.sizes import fit_into
from atdkit.ssim import ssim
from atdkit.store import Dataset

REVIEWER = "atd12k"  # the reviewer name the imported official labels are stored under
SUBSETS = ("test", "train")
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,199}")


def pair_ssims(frames: list[np.ndarray]) -> list[float]:
    """SSIM of frame pairs 1-2, 2-3 and 1-3 on luma fitted into extraction's analysis box."""
    size = fit_into(frames[0].shape[1], frames[0].shape[0], ANALYSIS_BOX)
    luma = [resize(cv2.cvtColor(f, cv2.COLOR_RGB2GRAY), size) for f in frames]
    return [ssim(luma[a], luma[b]) for a, b in ((0, 1), (1, 2), (0, 2))]


def _import_one(dataset: Dataset, name: str, files: tuple[Path, Path, Path], series: str) -> tuple[dict, bool]:
    """Frames of one triplet converted to PNG (unless already there) and its TRIPLETS row."""
    final = dataset.triplet_dir(name)
    done = all((final / f"frame{n}.png").is_file() for n in (1, 2, 3))
    frames = [read_rgb((final / f"frame{n}.png") if done else path) for n, path in enumerate(files, 1)]
    sizes = {(f.shape[1], f.shape[0]) for f in frames}
    if len(sizes) > 1:
        raise ImageError(f"{files[0].parent}: the three frames differ in size {sorted(sizes)}")
    if not done:
        write_folder(final, {f"frame{n}.png": f for n, f in enumerate(frames, 1)})
    s12, s23, s13 = pair_ssims(frames)
    return {
        "triplet_id": name,
        "source_id": source_and_series(name)[0],
        "series": series,
        "frames": None,
        "interval": None,
        "timestamps": None,
        "ssim_12": s12,
        "ssim_23": s23,
        "ssim_13": s13,
        "width": frames[0].shape[1],
        "height": frames[0].shape[0],
    }, not done


def import_atd12k(atd: Path, dataset: Dataset, subsets: tuple[str, ...] = SUBSETS, workers: int = 2) -> Report:
    """Read the official layout under ``atd`` into ``dataset`` (a new folder, or one an earlier import wrote).

    ValueError (one line) when ``dataset`` holds extracted films or ``atd`` is not the layout."""
    if dataset.has("sources"):
        raise ValueError(f"{dataset.root} holds films extracted by atdkit extract: import ATD-12K into a new folder")
    folders: dict[str, Path] = {}
    for subset, subfolders in (("test", (TEST_ORIGINAL, TEST_540P)), ("train", (TRAIN,))):
        if subset in subsets:
            for sub in subfolders:  # originals first; 540p only for triplets without them
                for name in triplet_names(atd / sub):
                    folders.setdefault(name, atd / sub / name)
    if not folders:
        raise ValueError(
            f"{atd}: no {TEST_ORIGINAL}/, {TEST_540P}/ or {TRAIN}/ folder with triplets: not the ATD-12K layout"
        )
    report, jobs = Report(), []
    for name, folder in folders.items():
        files = frame_files(folder)
        if not _SAFE_NAME.fullmatch(name):
            report.problems.append(f"{folder}: folder name not usable as a triplet id; skipped")
        elif files is None:
            report.problems.append(f"{folder}: frame1, frame2 and frame3 (.png or .jpg) are not all there; skipped")
        else:
            jobs.append((name, files, source_and_series(name)[1]))
    rows = {}
    with dataset.writing(), ThreadPoolExecutor(workers) as pool:
        futures = [(name, pool.submit(_import_one, dataset, name, files, series)) for name, files, series in jobs]
        for name, future in futures:
            try:
                row, wrote = future.result()
            except (OSError, ImageError) as error:
                report.problems.append(str(error))
                continue
            rows[name] = row
            report.written += wrote
            report.skipped += not wrote
        for row in dataset.rows("triplets"):
            rows.setdefault(row["triplet_id"], row)
        dataset.write("triplets", [rows[name] for name in sorted(rows)])
        _import_labels(atd, dataset, rows, report)
    consolidate(dataset)
    return report


def review_row(path: Path, frame_size: tuple[int, int], report: Report) -> dict | None:
    """One official JSON as an ANNOTATIONS row of :data:`REVIEWER`, its RoI scaled to
    ``frame_size``; None when unusable."""
    try:
        label = read_annotation(path)
    except AnnotationError as error:
        report.problems.append(str(error))
        return None
    report.notes.extend(f"{path}: {note}" for note in label.notes)
    box = None
    if label.roi is not None:
        width, height = label.image_size or frame_size
        scale_x, scale_y = frame_size[0] / width, frame_size[1] / height
        x, y, w, h = label.roi
        box = (x * scale_x, y * scale_y, w * scale_x, h * scale_y)
    return annotations.label_row(
        path.parent.name,
        REVIEWER,
        True,
        difficulty=label.difficulty,
        roi=box,
        general_motion=list(label.general_motion),
        behavior=list(label.behavior),
    )


def _import_labels(atd: Path, dataset: Dataset, triplets: dict[str, dict], report: Report) -> None:
    """The official JSONs as :data:`REVIEWER`'s review rows; only rows that changed since the last
    import are written."""
    previous_table, _ = annotations.read_all(dataset.root, annotations.REVIEWS)
    previous = {r["triplet_id"]: r for r in annotations.latest(previous_table) if r["annotator"] == REVIEWER}
    rows = []
    for name in triplet_names(atd / TEST_ANNOTATIONS):
        path = atd / TEST_ANNOTATIONS / name / f"{name}.json"
        if name not in triplets:
            report.problems.append(f"{path}: no frames imported for this triplet; label skipped")
            continue
        row = review_row(path, (triplets[name]["width"], triplets[name]["height"]), report)
        if row is None:
            continue
        old = previous.get(name)
        if old is None or {k: v for k, v in old.items() if k != "created_at"} != {
            k: v for k, v in row.items() if k != "created_at"
        }:
            rows.append(row)
    if rows:
        annotations.write_part(
            dataset.root, annotations.REVIEWS, REVIEWER, pa.Table.from_pylist(rows, schema=schema.ANNOTATIONS)
        )
