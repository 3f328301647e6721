"""What ``atdkit bench`` scores: the triplets of DATA, in either of two layouts, detected automatically.

- The official ATD-12K test layout (../shared/specs/atd12k_format.md): ``test_2k_540p/<id>/
  frame{1,2,3}.png``, ``test_2k_annotations/<id>/<id>.json`` and optionally
  ``test_2k_pre_calc_sgm_flows/<id>/guide_flo13.npy, guide_flo31.npy``.
- An atdkit dataset: ``labels.parquet`` (the triplets whose ``kept`` is true), filtered by
  ``splits.parquet`` when present (the test side by default), frames from ``frames/<id>/``.
  Without labels.parquet every triplet of ``triplets.parquet`` (or ``frames/``) is scored,
  unlabelled: under Whole only.

A triplet whose annotation is missing or malformed is kept with its ``problem``, so that the
run scores it as failed with the reason and goes on; unknown JSON fields are reported, never fatal.
"""
from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image

from atdkit import schema
from atdkit.store import Dataset, read_table

ATD_FRAMES, ATD_ANNOTATIONS, ATD_FLOWS = "test_2k_540p", "test_2k_annotations", "test_2k_pre_calc_sgm_flows"
ATD_FIELDS = ("level", "motion_RoI", "image_size", "general_motion_type", "behavior")
FLOW_FILES = ("guide_flo13.npy", "guide_flo31.npy")


class DataError(Exception):
    """DATA cannot be read as either layout; the message is one line."""


@dataclass(frozen=True)
class Triplet:
    triplet_id: str
    frames: tuple[Path, Path, Path]  # frame1 and frame3 are the inputs, frame2 the truth
    level: int | None = None  # index in schema.DIFFICULTIES; None when unlabelled
    general_motion: tuple[str, ...] = ()
    behavior: tuple[str, ...] = ()
    roi: tuple[float, float, float, float] | None = None  # (x, y, w, h) on frame2, in pixels of image_size
    image_size: tuple[int, int] | None = None  # (W, H) the RoI was drawn at; None: frame2's own size
    flows: tuple[Path, Path] | None = None  # SGM flows 1->3 and 3->1
    problem: str | None = None  # why it cannot be scored
    notes: tuple[str, ...] = ()  # what was read differently than written (unknown fields, ...)


@dataclass
class BenchData:
    root: Path
    layout: str  # "atd12k" or "atdkit"
    split: str | None
    triplets: list[Triplet]
    labelled: bool
    has_flows: bool
    warnings: list[str] = field(default_factory=list)

    def fingerprint(self) -> str:
        """Hash of every triplet's labels and frame file sizes: tells whether a resumed run scores the same data."""
        digest = hashlib.blake2b(digest_size=16)
        digest.update(self.layout.encode())
        for t in self.triplets:
            sizes = [p.stat().st_size if p.is_file() else -1 for p in t.frames]
            record = [t.triplet_id, sizes, t.level, t.general_motion, t.behavior, t.roi, t.image_size, t.problem]
            digest.update(json.dumps(record, default=list).encode())
        return digest.hexdigest()


def open_data(root: str | Path, split: str | None = None) -> BenchData:
    """The triplets of ``root``. ``split``: None (the test side when splits.parquet exists, else all),
    "all", or a side of SPLIT_SIDES (atdkit datasets with splits.parquet only)."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: no such folder")
    if (root / ATD_FRAMES).is_dir():
        if split not in (None, "all", "test"):
            raise DataError(f"{root}: the ATD-12K test layout has only the test split, not {split!r}")
        return _open_atd(root)
    if any((root / name).exists() for name in ("labels.parquet", "triplets.parquet", "frames")):
        return _open_atdkit(root, split)
    raise DataError(
        f"{root}: neither the ATD-12K test layout ({ATD_FRAMES}/ + {ATD_ANNOTATIONS}/) "
        "nor an atdkit dataset (labels.parquet, triplets.parquet or frames/)"
    )


def _frame_paths(folder: Path) -> tuple[Path, Path, Path]:
    def one(n: int) -> Path:
        png = folder / f"frame{n}.png"
        jpg = folder / f"frame{n}.jpg"
        return jpg if not png.exists() and jpg.exists() else png

    return one(1), one(2), one(3)


def _open_atd(root: Path) -> BenchData:
    annotations, flow_root = root / ATD_ANNOTATIONS, root / ATD_FLOWS
    if not annotations.is_dir():
        raise DataError(f"{root}: has {ATD_FRAMES}/ but no {ATD_ANNOTATIONS}/ (the test set's JSON annotations)")
    ids = sorted(p.name for p in (root / ATD_FRAMES).iterdir() if p.is_dir())
    if not ids:
        raise DataError(f"{root / ATD_FRAMES}: no triplet folders")
    has_flows = flow_root.is_dir()
    unknown: Counter[str] = Counter()
    triplets = []
    for triplet_id in ids:
        json_path = annotations / triplet_id / f"{triplet_id}.json"
        labels, problem, notes, extra = read_annotation(json_path)
        unknown.update(extra)
        flows = tuple(flow_root / triplet_id / name for name in FLOW_FILES) if has_flows else None
        triplets.append(Triplet(triplet_id, _frame_paths(root / ATD_FRAMES / triplet_id), flows=flows, problem=problem, notes=notes, **labels))
    warnings = [f"{annotations}: unknown field {name!r} in {count} JSON file(s), ignored" for name, count in sorted(unknown.items())]
    return BenchData(root, "atd12k", "test", triplets, labelled=True, has_flows=has_flows, warnings=warnings)


def _tags(value, name: str, notes: list[str]) -> tuple[str, ...]:
    if value is None:
        return ()
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        notes.append(f"{name}: expected a string or a list of strings, got {json.dumps(value)}: ignored")
        return ()
    return tuple(v.strip().lower() for v in values if v.strip())


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def read_annotation(path: Path) -> tuple[dict, str | None, tuple[str, ...], list[str]]:
    """One ATD-12K JSON: (Triplet label fields, problem or None, notes, unknown field names)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}, f"annotation {path} is missing", (), []
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        return {}, f"annotation {path} is unreadable: {error}", (), []
    if not isinstance(data, dict):
        return {}, f"annotation {path}: expected a JSON object, got {type(data).__name__}", (), []
    notes: list[str] = []
    extra = sorted(set(data) - set(ATD_FIELDS))
    if extra:
        notes.append(f"unknown JSON field(s) {', '.join(extra)} ignored")
    level, roi, size = data.get("level"), data.get("motion_RoI"), data.get("image_size")
    problem = None
    if not isinstance(level, int) or isinstance(level, bool) or not 0 <= level < len(schema.DIFFICULTIES):
        problem = f"level must be 0, 1 or 2, got {json.dumps(level)}"
    elif not isinstance(roi, dict) or not all(_number(roi.get(k)) for k in ("x", "y", "width", "height")):
        problem = f"motion_RoI must be an object with numbers x, y, width, height, got {json.dumps(roi)}"
    elif roi["width"] < 0 or roi["height"] < 0:
        problem = f"motion_RoI has a negative width or height: {json.dumps(roi)}"
    elif not isinstance(size, list) or len(size) != 2 or not all(_number(v) and v > 0 for v in size):
        problem = f"image_size must be [width, height], got {json.dumps(size)}"
    if problem:
        return {}, f"annotation {path}: {problem}", tuple(notes), extra
    labels = {
        "level": level,
        "roi": (float(roi["x"]), float(roi["y"]), float(roi["width"]), float(roi["height"])),
        "image_size": (int(size[0]), int(size[1])),
        "general_motion": _tags(data.get("general_motion_type"), "general_motion_type", notes),
        "behavior": _tags(data.get("behavior"), "behavior", notes),
    }
    return labels, None, tuple(notes), extra


def _open_atdkit(root: Path, split: str | None) -> BenchData:
    dataset = Dataset(root)
    labels_path, splits_path = root / "labels.parquet", root / "splits.parquet"
    warnings = []
    sizes = {}
    if dataset.triplets_path.exists():
        table = _read(dataset.triplets_path, schema.TRIPLETS).select(["triplet_id", "width", "height"]).to_pylist()
        sizes = {row["triplet_id"]: (row["width"], row["height"]) for row in table}
    if labels_path.exists():
        rows = [row for row in _read(labels_path, schema.LABELS).to_pylist() if row["kept"]]
        labelled = True
    else:
        ids = sorted(sizes) or sorted(p.name for p in dataset.frames_dir.glob("*") if p.is_dir() and not p.name.startswith("."))
        rows = [{"triplet_id": i} for i in ids]
        labelled = False
        warnings.append(f"{root}: no labels.parquet: every triplet is scored under Whole only (no RoI, no difficulty)")
    if split != "all" and (split or splits_path.exists()):
        if not splits_path.exists():
            raise DataError(f"{root}: --split {split} needs splits.parquet (run atdkit split first), or pass --split all")
        split = split or "test"
        if split not in schema.SPLIT_SIDES:
            raise DataError(f"--split must be one of {', '.join(schema.SPLIT_SIDES)} or all, got {split!r}")
        side = {row["triplet_id"] for row in _read(splits_path, schema.SPLITS).to_pylist() if row["split"] == split}
        rows = [row for row in rows if row["triplet_id"] in side]
    else:
        split = None
    if not rows:
        what = "kept labelled triplets" if labelled else "triplets"
        raise DataError(f"{root}: no {what} to score" + (f" in the {split} split" if split else ""))
    triplets = []
    for row in sorted(rows, key=lambda r: r["triplet_id"]):
        notes = []
        difficulty = row.get("difficulty")
        if difficulty is not None and difficulty not in schema.DIFFICULTIES:
            notes.append(f"difficulty {difficulty!r} is not one of {', '.join(schema.DIFFICULTIES)}: unlabelled")
        roi = None if row.get("roi_x") is None else (row["roi_x"], row["roi_y"], row["roi_w"], row["roi_h"])
        triplets.append(Triplet(
            row["triplet_id"], _frame_paths(dataset.triplet_dir(row["triplet_id"])),
            level=schema.DIFFICULTIES.index(difficulty) if difficulty in schema.DIFFICULTIES else None,
            general_motion=tuple(row.get("general_motion") or ()), behavior=tuple(row.get("behavior") or ()),
            roi=roi, image_size=sizes.get(row["triplet_id"]), notes=tuple(notes),
        ))
    return BenchData(root, "atdkit", split, triplets, labelled=labelled, has_flows=False, warnings=warnings)


def _read(path: Path, table_schema):
    try:
        return read_table(path, table_schema)
    except Exception as error:  # pyarrow raises several types for a bad or foreign file
        raise DataError(f"{path}: cannot be read as atdkit's table ({type(error).__name__}: {error})") from None


@dataclass
class Loaded:
    """A triplet's images, ready for a method: uint8 RGB (3, H, W, 3) at the scored size."""

    triplet: Triplet
    frames: np.ndarray | None = None
    flows: np.ndarray | None = None  # (2, 2, H, W) float32: flow 1->3 and 3->1, at the scored size
    source_size: tuple[int, int] | None = None  # (W, H) of the files
    problem: str | None = None


def read_rgb(path: Path) -> np.ndarray:
    """An image file as uint8 RGB (H, W, 3); ValueError naming the file when missing or unreadable."""
    if not path.is_file():
        raise ValueError(f"{path.name} is missing ({path})")
    image = cv2.imdecode(np.fromfile(path, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"{path.name} is not a readable image ({path})")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def resize_rgb(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The official resize: Pillow's Lanczos (antialiased) to (W, H); a no-op at that size."""
    if (image.shape[1], image.shape[0]) == tuple(size):
        return image
    return np.asarray(Image.fromarray(image).resize(size, Image.Resampling.LANCZOS))


def read_flows(paths: tuple[Path, Path], size: tuple[int, int]) -> np.ndarray:
    """SGM flows (2, H, W) each, resized like the official loader (nearest) with displacements scaled."""
    flows = []
    for path in paths:
        if not path.is_file():
            raise ValueError(f"{path.name} is missing ({path})")
        flow = np.load(path)
        if flow.ndim != 3 or flow.shape[0] != 2:
            raise ValueError(f"{path}: expected a flow of shape (2, H, W), got {flow.shape}")
        resized = torch.nn.functional.interpolate(torch.from_numpy(flow.astype(np.float32))[None], size=(size[1], size[0]))[0]
        resized[0] *= size[0] / flow.shape[2]
        resized[1] *= size[1] / flow.shape[1]
        flows.append(resized.numpy())
    return np.stack(flows)


def load_triplet(triplet: Triplet, size: tuple[int, int], flows: str = "none") -> Loaded:
    """Read, check and resize one triplet; never raises: a problem is returned with the reason.

    ``flows`` as a method declares it: "none", "optional" (read when present) or "required".
    """
    if triplet.problem:
        return Loaded(triplet, problem=triplet.problem)
    try:
        images = [read_rgb(path) for path in triplet.frames]
        shapes = {image.shape for image in images}
        if len(shapes) > 1:
            listed = ", ".join(f"frame{n} {im.shape[1]}x{im.shape[0]}" for n, im in enumerate(images, 1))
            raise ValueError(f"frame sizes differ within the triplet: {listed}")
        source = (images[0].shape[1], images[0].shape[0])
        frames = np.stack([resize_rgb(image, size) for image in images])
        present = triplet.flows is not None and all(path.is_file() for path in triplet.flows)
        if flows == "required" and not present:
            raise ValueError(f"precomputed flows {' and '.join(FLOW_FILES)} are missing for {triplet.triplet_id}")
        flow_arrays = read_flows(triplet.flows, size) if flows != "none" and present else None
    except (ValueError, OSError) as error:
        return Loaded(triplet, problem=str(error))
    return Loaded(triplet, frames, flow_arrays, source)
