"""The official ATD-12K layout (``../shared/specs/atd12k_format.md``): export kept triplets to it, import it.

Export (``atdkit export atd12k DATASET_DIR OUT_DIR``) writes each kept triplet of
``labels.parquet`` as ``test_2k_540p/<id>/frame{1,2,3}.png`` (960x540),
``test_2k_original/<id>/frame{1,2,3}.jpg`` (stored size, JPEG quality 95, as the release)
and ``test_2k_annotations/<id>/<id>.json``; with ``coco`` also the RoI boxes as COCO.

Import (``atdkit import atd12k ATD_DIR DATASET_DIR``) turns the release into an atdkit
dataset: ``frames/<id>/frame{1,2,3}.png``, ``triplets.parquet``, the official labels as the
review of the reserved reviewer :data:`REVIEWER` (so ``atdkit consolidate`` keeps them), and
``labels.parquet``.

Both write each triplet folder under a temporary name and rename it; a triplet already
written is skipped, so an interrupted run resumes.
"""
from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pyarrow as pa

from atdkit import schema
from atdkit.ssim import ssim
from atdkit.store import Dataset, read_table, remove, replace_dir, temporary_sibling, write_file, write_table
from pipelines import annotations
from pipelines.consolidate import consolidate, labels_path
from pipelines.extract import analysis_size

TEST_540P, TEST_ORIGINAL, TEST_ANNOTATIONS, TRAIN = "test_2k_540p", "test_2k_original", "test_2k_annotations", "train_10k"
SIZE_540P = (960, 540)
JPEG_QUALITY = 95
REVIEWER = "atd12k"  # the reviewer name the imported official labels are stored under
JSON_FIELDS = ("level", "motion_RoI", "image_size", "general_motion_type", "behavior")
SUBSETS = ("test", "train")
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,199}")
_ATD_NAME = re.compile(r"(?P<source>.+)_(?P<index>\d+)_s\d+")


@dataclass
class Report:
    written: int = 0  # triplets written by this run
    skipped: int = 0  # already there from an earlier run
    problems: list[str] = field(default_factory=list)  # one line per triplet or file left out
    notes: list[str] = field(default_factory=list)  # things worth knowing that did not stop anything


def _read_rgb(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise OSError(f"{path}: missing or not an image")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def _write_image(path: Path, rgb: np.ndarray) -> None:
    params = [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY] if path.suffix == ".jpg" else [cv2.IMWRITE_PNG_COMPRESSION, 1]
    ok, data = cv2.imencode(path.suffix, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), params)
    if not ok:
        raise OSError(f"{path}: encoding failed")
    path.write_bytes(data.tobytes())


def _resize(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    if (rgb.shape[1], rgb.shape[0]) == size:
        return rgb
    shrinking = size[0] < rgb.shape[1]
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC)


def _write_folder(final: Path, files: dict[str, bytes | np.ndarray]) -> None:
    """A folder of images (arrays) and texts (bytes), renamed into place when whole."""
    tmp = temporary_sibling(final)
    remove(tmp)  # a leftover of a killed run, if any
    tmp.mkdir(parents=True)
    for name, content in files.items():
        if isinstance(content, bytes):
            (tmp / name).write_bytes(content)
        else:
            _write_image(tmp / name, content)
    replace_dir(tmp, final)


# --------------------------------------------------------------------------- export


def annotation_json(label: dict, image_size: tuple[int, int]) -> dict:
    """The official JSON of one consolidated LABELS row (RoI rounded to whole pixels)."""
    x, y, w, h = (int(round(label[k])) for k in ("roi_x", "roi_y", "roi_w", "roi_h"))
    return {
        "level": schema.DIFFICULTIES.index(label["difficulty"]),
        "motion_RoI": {"x": x, "y": y, "width": w, "height": h},
        "image_size": [int(image_size[0]), int(image_size[1])],
        "general_motion_type": list(label["general_motion"] or []),
        "behavior": list(label["behavior"] or []),
    }


def _export_one(dataset: Dataset, out: Path, label: dict, size: tuple[int, int]) -> bool:
    """Write one triplet; False when it was already there, identical."""
    name = label["triplet_id"]
    document = (json.dumps(annotation_json(label, size), indent=2) + "\n").encode()
    json_path = out / TEST_ANNOTATIONS / name / f"{name}.json"
    complete = all((out / sub / name / f"frame{n}.{ext}").is_file() for sub, ext in ((TEST_540P, "png"), (TEST_ORIGINAL, "jpg")) for n in (1, 2, 3))
    if complete and json_path.is_file() and json_path.read_bytes() == document:
        return False
    frames = [_read_rgb(dataset.triplet_dir(name) / f"frame{n}.png") for n in (1, 2, 3)]
    _write_folder(out / TEST_540P / name, {f"frame{n}.png": _resize(f, SIZE_540P) for n, f in enumerate(frames, 1)})
    _write_folder(out / TEST_ORIGINAL / name, {f"frame{n}.jpg": f for n, f in enumerate(frames, 1)})
    _write_folder(out / TEST_ANNOTATIONS / name, {f"{name}.json": document})  # last: the triplet's done-marker
    return True


def coco_document(exported: list[tuple[dict, tuple[int, int]]]) -> dict:
    """The RoI boxes as COCO detection annotations on ``test_2k_original/<id>/frame2.jpg``."""
    images, boxes = [], []
    for number, (label, size) in enumerate(exported, start=1):
        document = annotation_json(label, size)
        roi = document["motion_RoI"]
        images.append({"id": number, "file_name": f"{TEST_ORIGINAL}/{label['triplet_id']}/frame2.jpg", "width": size[0], "height": size[1]})
        boxes.append({
            "id": number, "image_id": number, "category_id": 1, "iscrowd": 0,
            "bbox": [roi["x"], roi["y"], roi["width"], roi["height"]], "area": roi["width"] * roi["height"],
            "level": document["level"], "general_motion_type": document["general_motion_type"], "behavior": document["behavior"],
        })
    return {"info": {"description": "ATD-12K style motion RoI boxes exported by atdkit"}, "images": images,
            "annotations": boxes, "categories": [{"id": 1, "name": "motion_roi", "supercategory": "motion"}]}


def export(dataset: Dataset, out: Path, coco: Path | None = None, workers: int = 2) -> Report:
    """Write the kept, fully labelled triplets of ``dataset`` in the official layout under ``out``."""
    if not labels_path(dataset).exists():
        raise FileNotFoundError(f"{labels_path(dataset)} is missing: run atdkit consolidate {dataset.root} first")
    triplets = {r["triplet_id"]: r for r in read_table(dataset.triplets_path, schema.TRIPLETS).to_pylist()}
    report, ready = Report(), []
    for label in read_table(labels_path(dataset), schema.LABELS).to_pylist():
        name = label["triplet_id"]
        if not label["kept"]:
            continue
        if name not in triplets:
            report.problems.append(f"{name}: in labels.parquet but not in triplets.parquet (run atdkit consolidate again)")
        elif label["difficulty"] is None or label["roi_x"] is None:
            missing = " and ".join(w for w, v in (("difficulty", label["difficulty"]), ("RoI", label["roi_x"])) if v is None)
            why = "the annotators disagree: settle it on the adjudication page" if label["needs_review"] else "nobody gave one"
            report.problems.append(f"{name}: no {missing} ({why}); not exported")
        else:
            ready.append((label, (triplets[name]["width"], triplets[name]["height"])))
    out.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(workers) as pool:
        futures = [(label, pool.submit(_export_one, dataset, out, label, size)) for label, size in ready]
        exported = []
        for (label, size), (_, future) in zip(ready, futures):
            try:
                wrote = future.result()
            except OSError as error:
                report.problems.append(f"{label['triplet_id']}: {error}")
                continue
            report.written += wrote
            report.skipped += not wrote
            exported.append((label, size))
    names = {label["triplet_id"] for label, _ in exported}
    folders = (out / TEST_ANNOTATIONS).iterdir() if (out / TEST_ANNOTATIONS).is_dir() else ()
    others = sorted(p.name for p in folders if p.is_dir() and p.name not in names and not p.name.startswith("."))
    if others:
        report.notes.append(f"{out / TEST_ANNOTATIONS}: {len(others)} triplet(s) not in this export are left as they were (e.g. {others[0]})")
    if coco is not None:
        write_file(coco, json.dumps(coco_document(exported), indent=1) + "\n")
    return report


# --------------------------------------------------------------------------- import


def _tags(value, vocabulary: tuple[str, ...], what: str, where: str, report: Report) -> list[str]:
    """A tag field that may be a string, a list or null; unknown tags are reported and dropped."""
    values = [value] if isinstance(value, str) else list(value or [])
    tags = [str(v).strip().lower() for v in values]
    unknown = [t for t in tags if t not in vocabulary]
    if unknown:
        report.notes.append(f"{where}: {what} {unknown} not in {', '.join(vocabulary)}; ignored")
    return [t for t in vocabulary if t in tags]


def read_annotation(path: Path, frame_size: tuple[int, int], report: Report) -> dict | None:
    """One official JSON as an ANNOTATIONS row of :data:`REVIEWER`, RoI scaled to ``frame_size``; None when unusable."""
    try:
        document = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        report.problems.append(f"{path}: not readable JSON ({error})")
        return None
    if not isinstance(document, dict):
        report.problems.append(f"{path}: expected a JSON object")
        return None
    unknown = sorted(set(document) - set(JSON_FIELDS))
    if unknown:
        report.notes.append(f"{path}: unknown field(s) {', '.join(unknown)} ignored")
    level = document.get("level")
    if not isinstance(level, int) or isinstance(level, bool) or not 0 <= level < len(schema.DIFFICULTIES):
        report.problems.append(f"{path}: level {level!r} is not 0, 1 or 2")
        return None
    roi, box = document.get("motion_RoI"), None
    size = document.get("image_size") or frame_size
    try:
        if roi is not None:
            scale_x, scale_y = frame_size[0] / float(size[0]), frame_size[1] / float(size[1])
            box = (float(roi["x"]) * scale_x, float(roi["y"]) * scale_y, float(roi["width"]) * scale_x, float(roi["height"]) * scale_y)
        return annotations.label_row(
            path.parent.name, REVIEWER, True, difficulty=schema.DIFFICULTIES[level], roi=box,
            general_motion=_tags(document.get("general_motion_type"), schema.GENERAL_MOTIONS, "general_motion_type", str(path), report),
            behavior=_tags(document.get("behavior"), schema.BEHAVIORS, "behavior", str(path), report),
        )
    except (KeyError, TypeError, ValueError, ZeroDivisionError, IndexError) as error:
        report.problems.append(f"{path}: motion_RoI {roi!r} / image_size {size!r} unusable ({error})")
        return None


def _frame_files(folder: Path) -> list[Path] | None:
    files = []
    for n in (1, 2, 3):
        found = [folder / f"frame{n}{ext}" for ext in (".png", ".jpg", ".jpeg") if (folder / f"frame{n}{ext}").is_file()]
        if not found:
            return None
        files.append(found[0])
    return files


def _pair_ssims(frames: list[np.ndarray]) -> list[float]:
    size = analysis_size(frames[0].shape[1], frames[0].shape[0], (320, 180))
    luma = [cv2.resize(cv2.cvtColor(f, cv2.COLOR_RGB2GRAY), size, interpolation=cv2.INTER_AREA) for f in frames]
    return [ssim(luma[a], luma[b]) for a, b in ((0, 1), (1, 2), (0, 2))]


def _import_one(dataset: Dataset, name: str, files: list[Path], series: str) -> tuple[dict, bool]:
    """Frames of one triplet converted to PNG (unless already there) and its TRIPLETS row."""
    final = dataset.triplet_dir(name)
    done = all((final / f"frame{n}.png").is_file() for n in (1, 2, 3))
    frames = [_read_rgb((final / f"frame{n}.png") if done else path) for n, path in enumerate(files, 1)]
    sizes = {(f.shape[1], f.shape[0]) for f in frames}
    if len(sizes) > 1:
        raise OSError(f"{files[0].parent}: the three frames differ in size {sorted(sizes)}")
    if not done:
        _write_folder(final, {f"frame{n}.png": f for n, f in enumerate(frames, 1)})
    match = _ATD_NAME.fullmatch(name)
    s12, s23, s13 = _pair_ssims(frames)
    return {
        "triplet_id": name, "source_id": match["source"] if match else name, "series": series,
        "frames": None, "interval": None, "timestamps": None, "ssim_12": s12, "ssim_23": s23, "ssim_13": s13,
        "width": frames[0].shape[1], "height": frames[0].shape[0],
    }, not done


def import_atd12k(atd: Path, dataset: Dataset, subsets: tuple[str, ...] = SUBSETS, workers: int = 2) -> Report:
    """Read the official layout under ``atd`` into ``dataset`` (a new folder, or one an earlier import wrote)."""
    if dataset.sources_path.exists():
        raise ValueError(f"{dataset.root} holds films extracted by atdkit extract: import ATD-12K into a new folder")
    folders: dict[str, tuple[Path, str]] = {}  # name -> (frames folder, series)
    for subset, subfolders in (("test", (TEST_ORIGINAL, TEST_540P)), ("train", (TRAIN,))):
        if subset not in subsets:
            continue
        for sub in subfolders:  # originals first; 540p only for triplets without them
            if (atd / sub).is_dir():
                for folder in sorted(p for p in (atd / sub).iterdir() if p.is_dir()):
                    folders.setdefault(folder.name, (folder, folder.name.split("_")[0]))
    if not folders:
        raise FileNotFoundError(f"{atd}: no {TEST_ORIGINAL}/, {TEST_540P}/ or {TRAIN}/ folder with triplets: not the ATD-12K layout")
    report, jobs = Report(), []
    for name, (folder, series) in folders.items():
        files = _frame_files(folder)
        if not _SAFE_NAME.fullmatch(name):
            report.problems.append(f"{folder}: folder name not usable as a triplet id; skipped")
        elif files is None:
            report.problems.append(f"{folder}: frame1, frame2 and frame3 (.png or .jpg) are not all there; skipped")
        else:
            jobs.append((name, files, series))
    rows = {}
    with dataset.writing(), ThreadPoolExecutor(workers) as pool:
        futures = [(name, pool.submit(_import_one, dataset, name, files, series)) for name, files, series in jobs]
        for name, future in futures:
            try:
                row, wrote = future.result()
            except OSError as error:
                report.problems.append(str(error))
                continue
            rows[name] = row
            report.written += wrote
            report.skipped += not wrote
        if dataset.triplets_path.exists():
            for row in read_table(dataset.triplets_path, schema.TRIPLETS).to_pylist():
                rows.setdefault(row["triplet_id"], row)
        write_table(dataset.triplets_path, [rows[name] for name in sorted(rows)], schema.TRIPLETS)
        _import_labels(atd, dataset, rows, report)
    consolidate(dataset)
    return report


def _import_labels(atd: Path, dataset: Dataset, triplets: dict[str, dict], report: Report) -> None:
    """The official JSONs as :data:`REVIEWER`'s review rows; only rows that changed since the last import are written."""
    if not (atd / TEST_ANNOTATIONS).is_dir():
        return
    previous_table, _ = annotations.read_all(dataset.root, annotations.REVIEWS)
    previous = {r["triplet_id"]: r for r in annotations.latest(previous_table) if r["annotator"] == REVIEWER}
    rows = []
    for folder in sorted(p for p in (atd / TEST_ANNOTATIONS).iterdir() if p.is_dir()):
        path = folder / f"{folder.name}.json"
        if folder.name not in triplets:
            report.problems.append(f"{path}: no frames imported for this triplet; label skipped")
            continue
        row = read_annotation(path, (triplets[folder.name]["width"], triplets[folder.name]["height"]), report) if path.is_file() else None
        if row is None:
            if not path.is_file():
                report.problems.append(f"{path}: missing")
            continue
        old = previous.get(row["triplet_id"])
        if old is None or {k: v for k, v in old.items() if k != "created_at"} != {k: v for k, v in row.items() if k != "created_at"}:
            rows.append(row)
    if rows:
        annotations.write_part(dataset.root, annotations.REVIEWS, REVIEWER, pa.Table.from_pylist(rows, schema=schema.ANNOTATIONS))
