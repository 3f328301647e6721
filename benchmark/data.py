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

Each triplet also carries what the breakdowns group it by: its region (``west`` when its series or
folder name has "Disney" in it, as EISAI splits ATD-12K, else ``east``) and its motion (flow mean as
a percentage of the frame diagonal) and occlusion share, from ``motion.parquet`` for an atdkit dataset
that has one, else measured while the frames are read (:func:`load_triplet`), with the same DIS
statistics as ``atdkit stats``.

For methods that take four frames (QVI), :class:`NeighbourReader` reads the frames one interval before
frame1 and after frame3 from an atdkit triplet's source film, when the film is still where extraction
read it and unchanged (its content hash); otherwise frame1 and frame3 stand in for them, and the row's
note says which was used.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from atdkit import schema
from atdkit.images import read_rgb, resize_lanczos
from atdkit.images import resize as resize_as_extracted
from atdkit.pipelines.extraction.films import content_hash
from atdkit.pipelines.formats import atd12k
from atdkit.pipelines.statistics.difficulty import motion_percent
from atdkit.pipelines.statistics.flow import make_estimator
from atdkit.pipelines.statistics.motion import FlowSettings, flow_statistics
from atdkit.store import Dataset, DatasetError
from atdkit.video import VideoError, open_video


class DataError(Exception):
    """DATA cannot be read as either layout; the message is one line."""


@dataclass(frozen=True)
class FilmFrames:
    """Where a triplet's neighbours are: its source film as extraction recorded it, and the frames one interval
    before frame1 and after frame3 (0-based decoded indices; the one before may be negative)."""

    path: Path
    content_hash: str  # blake2b-128 of the film's bytes when it was extracted
    backend: str  # the decoder extraction used
    indices: tuple[int, int]
    size: tuple[int, int]  # (W, H) the triplet's images were saved at
    frame_count: int | None  # frames the film decoded to


@dataclass(frozen=True)
class Triplet:
    triplet_id: str
    frames: tuple[Path, Path, Path]  # frame1 and frame3 are the inputs, frame2 the truth
    level: int | None = None  # index in schema.DIFFICULTIES; None when unlabelled
    general_motion: tuple[str, ...] = ()
    behavior: tuple[str, ...] = ()
    roi: tuple[float, float, float, float] | None = None  # (x, y, w, h) on frame2, in pixels of image_size
    image_size: tuple[int, int] | None = None  # (W, H) the RoI was drawn at; None: frame2's own size
    flows: Path | None = None  # the folder of its precomputed flows 1->3 and 3->1 (atd12k.FLOW_FILES)
    problem: str | None = None  # why it cannot be scored
    notes: tuple[str, ...] = ()  # what was read differently than written (unknown fields, ...)
    region: str = "east"  # "west" for Disney's series, as EISAI splits ATD-12K
    motion: float | None = None  # flow mean, % of the frame diagonal; None: measured when read
    occlusion: float | None = None  # share of occluded pixels (0-1)
    film: FilmFrames | None = None  # where its neighbouring frames are (atdkit datasets)


def region_of(name: str) -> str:
    """``west`` for a series or folder name with "Disney" in it (EISAI's split of ATD-12K), else ``east``."""
    return "west" if "disney" in name.lower() else "east"


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
    if (root / atd12k.TEST_540P).is_dir():
        if split not in (None, "all", "test"):
            raise DataError(f"{root}: the ATD-12K test layout has only the test split, not {split!r}")
        return _open_atd(root)
    dataset = Dataset(root)
    if dataset.has("labels") or dataset.has("triplets") or dataset.frames_dir.exists():
        try:
            return _open_atdkit(dataset, split)
        except DatasetError as error:
            raise DataError(str(error)) from None
    raise DataError(
        f"{root}: neither the ATD-12K test layout ({atd12k.TEST_540P}/ + {atd12k.TEST_ANNOTATIONS}/) "
        "nor an atdkit dataset (labels.parquet, triplets.parquet or frames/)"
    )


def _open_atd(root: Path) -> BenchData:
    annotations, flow_root = root / atd12k.TEST_ANNOTATIONS, root / atd12k.TEST_FLOWS
    if not annotations.is_dir():
        raise DataError(
            f"{root}: has {atd12k.TEST_540P}/ but no {atd12k.TEST_ANNOTATIONS}/ (the test set's JSON annotations)"
        )
    ids = atd12k.triplet_names(root / atd12k.TEST_540P)
    if not ids:
        raise DataError(f"{root / atd12k.TEST_540P}: no triplet folders")
    has_flows = flow_root.is_dir()
    unknown: Counter[str] = Counter()
    triplets = []
    for triplet_id in ids:
        frames = atd12k.expected_frames(root / atd12k.TEST_540P / triplet_id)
        flows = flow_root / triplet_id if has_flows else None
        try:
            label = atd12k.read_annotation(annotations / triplet_id / f"{triplet_id}.json")
        except atd12k.AnnotationError as error:
            triplets.append(Triplet(triplet_id, frames, flows=flows, problem=f"annotation {error}"))
            continue
        unknown.update(label.unknown_fields)
        triplets.append(
            Triplet(
                triplet_id,
                frames,
                level=label.level,
                general_motion=label.general_motion,
                behavior=label.behavior,
                roi=label.roi,
                image_size=label.image_size,
                flows=flows,
                notes=label.notes,
                region=region_of(triplet_id),
            )
        )
    warnings = [
        f"{annotations}: unknown field {name!r} in {count} JSON file(s), ignored"
        for name, count in sorted(unknown.items())
    ]
    return BenchData(root, "atd12k", "test", triplets, labelled=True, has_flows=has_flows, warnings=warnings)


def _open_atdkit(dataset: Dataset, split: str | None) -> BenchData:
    root, warnings = dataset.root, []
    triplets_table = dataset.read("triplets")
    info = {} if triplets_table is None else {row["triplet_id"]: row for row in triplets_table.to_pylist()}
    sizes = {name: (row["width"], row["height"]) for name, row in info.items()}
    motion = {row["triplet_id"]: row for row in dataset.rows("motion")}
    sources = {row["source_id"]: row for row in dataset.rows("sources")}
    labels = dataset.read("labels")
    if labels is not None:
        rows = [row for row in labels.to_pylist() if row["kept"]]
    else:
        ids = sorted(sizes) or sorted(
            p.name for p in dataset.frames_dir.glob("*") if p.is_dir() and not p.name.startswith(".")
        )
        rows = [{"triplet_id": i} for i in ids]
        warnings.append(f"{root}: no labels.parquet: every triplet is scored under Whole only (no RoI, no difficulty)")
    if split != "all" and (split or dataset.has("splits")):
        if not dataset.has("splits"):
            raise DataError(
                f"{root}: --split {split} needs splits.parquet (run atdkit split first), or pass --split all"
            )
        split = split or "test"
        if split not in schema.SPLIT_SIDES:
            raise DataError(f"--split must be one of {', '.join(schema.SPLIT_SIDES)} or all, got {split!r}")
        side = {row["triplet_id"] for row in dataset.rows("splits") if row["split"] == split}
        rows = [row for row in rows if row["triplet_id"] in side]
    else:
        split = None
    if not rows:
        what = "kept labelled triplets" if labels is not None else "triplets"
        raise DataError(f"{root}: no {what} to score" + (f" in the {split} split" if split else ""))
    triplets = []
    for row in sorted(rows, key=lambda r: r["triplet_id"]):
        notes = []
        difficulty = row.get("difficulty")
        if difficulty is not None and difficulty not in schema.DIFFICULTIES:
            notes.append(f"difficulty {difficulty!r} is not one of {', '.join(schema.DIFFICULTIES)}: unlabelled")
        roi = None if row.get("roi_x") is None else (row["roi_x"], row["roi_y"], row["roi_w"], row["roi_h"])
        measured, size = motion.get(row["triplet_id"]), sizes.get(row["triplet_id"])
        triplets.append(
            Triplet(
                row["triplet_id"],
                atd12k.expected_frames(dataset.triplet_dir(row["triplet_id"])),
                level=schema.DIFFICULTIES.index(difficulty) if difficulty in schema.DIFFICULTIES else None,
                general_motion=tuple(row.get("general_motion") or ()),
                behavior=tuple(row.get("behavior") or ()),
                roi=roi,
                image_size=size,
                notes=tuple(notes),
                region=region_of((info.get(row["triplet_id"]) or {}).get("series") or row["triplet_id"]),
                motion=float(motion_percent(measured["flow_mean"], *size)) if measured and size else None,
                occlusion=measured["occlusion_ratio"] if measured and size else None,
                film=film_frames(info.get(row["triplet_id"]), sources),
            )
        )
    return BenchData(root, "atdkit", split, triplets, labelled=labels is not None, has_flows=False, warnings=warnings)


def film_frames(triplet: dict | None, sources: dict[str, dict]) -> FilmFrames | None:
    """Where the neighbours of ``triplet`` (its triplets.parquet row) are, from its film's sources.parquet row."""
    source = sources.get(triplet["source_id"]) if triplet else None
    if source is None or not source.get("path") or not source.get("content_hash"):
        return None
    first, second, third = triplet["frames"]
    return FilmFrames(
        Path(source["path"]),
        source["content_hash"],
        source.get("backend") or "pyav",
        (2 * first - second, third + (second - first)),
        (triplet["width"], triplet["height"]),
        source.get("frame_count"),
    )


@dataclass
class Loaded:
    """A triplet's images, ready for a method: uint8 RGB (3, H, W, 3) at the scored size."""

    triplet: Triplet
    frames: np.ndarray | None = None
    flows: np.ndarray | None = None  # (2, 2, H, W) float32: flow 1->3 and 3->1, at the scored size
    source_size: tuple[int, int] | None = None  # (W, H) of the files
    problem: str | None = None
    motion: float | None = None  # the triplet's, as Triplet.motion (measured here when it had none)
    occlusion: float | None = None
    neighbours: np.ndarray | None = None  # uint8 RGB (2, H, W, 3): frame0 and frame4, for four-frame methods
    notes: tuple[str, ...] = ()  # how it was read (which neighbours)


_ESTIMATORS = threading.local()  # one DIS estimator per loading thread


def measure_motion(frames: np.ndarray) -> tuple[float, float]:
    """(flow mean as % of the frame diagonal, occlusion share) of a triplet's frames, as ``atdkit stats`` measures."""
    if not hasattr(_ESTIMATORS, "dis"):
        _ESTIMATORS.dis = make_estimator("dis")
    height, width = frames.shape[1:3]
    stats = flow_statistics(frames[0], frames[2], _ESTIMATORS.dis, FlowSettings().box)
    return float(motion_percent(stats["flow_mean"], width, height)), stats["occlusion_ratio"]


def read_flows(folder: Path, size: tuple[int, int]) -> np.ndarray:
    """A triplet's precomputed flows (2, 2, H, W) resized to ``size`` (W, H) like the official loader
    (nearest), displacements scaled."""
    flows = []
    for flow in atd12k.read_flows(folder):
        resized = torch.nn.functional.interpolate(torch.from_numpy(flow)[None], size=(size[1], size[0]))[0]
        resized[0] *= size[0] / flow.shape[2]
        resized[1] *= size[1] / flow.shape[1]
        flows.append(resized.numpy())
    return np.stack(flows)


def load_triplet(
    triplet: Triplet, size: tuple[int, int], flows: str = "none", neighbours: NeighbourReader | None = None
) -> Loaded:
    """Read, check and resize one triplet; never raises: a problem is returned with the reason.

    ``flows`` as a method declares it: "none", "optional" (read when present) or "required". With
    ``neighbours``, frame0 and frame4 are read too (frame1 and frame3 in their place where they cannot be).
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
        frames = np.stack([resize_lanczos(image, size) for image in images])
        present = triplet.flows is not None and all((triplet.flows / name).is_file() for name in atd12k.FLOW_FILES)
        if flows == "required" and not present:
            raise ValueError(
                f"precomputed flows {' and '.join(atd12k.FLOW_FILES)} are missing for {triplet.triplet_id}"
            )
        flow_arrays = read_flows(triplet.flows, size) if flows != "none" and present else None
    except (ValueError, OSError) as error:  # ImageError and FlowFileError are ValueErrors
        return Loaded(triplet, problem=str(error))
    motion, occlusion = (triplet.motion, triplet.occlusion) if triplet.motion is not None else measure_motion(frames)
    outer, notes = None, ()
    if neighbours is not None:
        read, note = neighbours.read(triplet)
        outer = np.stack(
            [frames[n] if image is None else resize_lanczos(image, size) for n, image in zip((0, 2), read)]
        )
        notes = (note,)
    return Loaded(
        triplet, frames, flow_arrays, source, motion=motion, occlusion=occlusion, neighbours=outer, notes=notes
    )


class NeighbourReader:
    """Frame0 and frame4 of triplets, read from their source films: each film decoded forward once for the
    triplets given (in id order, i.e. film order), keeping only the frames they want until they are taken;
    safe to call from several threads (one film at a time each)."""

    def __init__(self, triplets: list[Triplet]):
        self._films: dict[tuple, _FilmReader] = {}
        for triplet in triplets:
            if triplet.film is not None:
                self._reader(triplet.film).wanted.update(triplet.film.indices)
        self._lock = threading.Lock()

    def _reader(self, film: FilmFrames) -> _FilmReader:
        key = (film.path, film.content_hash, film.backend, film.size, film.frame_count)
        return self._films.setdefault(key, _FilmReader(film))

    def read(self, triplet: Triplet) -> tuple[list[np.ndarray | None], str]:
        """(frame0, frame4) at the triplet's saved size, None for each that frame1 or frame3 must stand in
        for, and the note saying which were used."""
        film = triplet.film
        if film is None:
            return [None, None], "neighbours: replicated (no source film recorded)"
        with self._lock:
            reader = self._reader(film)
        return reader.read(film)

    def close(self) -> None:
        for reader in self._films.values():
            reader.close()


class _FilmReader:
    """One film's frames for a :class:`NeighbourReader`: ``wanted`` counts the requests still to come per frame."""

    def __init__(self, film: FilmFrames):
        self.film, self.wanted = film, Counter()
        self.lock = threading.Lock()
        self.unusable: str | None = None  # why the film cannot be read, once checked
        self.checked = False
        self.stream = self.frames = None
        self.position = -1  # the last frame decoded
        self.held: dict[int, np.ndarray] = {}

    def read(self, film: FilmFrames) -> tuple[list[np.ndarray | None], str]:
        with self.lock:
            self._check()
            found, outside = [], []
            for name, index in zip(("frame0", "frame4"), film.indices):
                image = None if self.unusable else self._frame(index)
                self.wanted[index] -= 1
                if self.wanted[index] <= 0:
                    self.held.pop(index, None)
                if image is None and not self.unusable:
                    outside.append(name)
                found.append(image)
            if not any(self.wanted[index] > 0 for index in self.wanted):
                self.close()
        if self.unusable:
            return found, f"neighbours: replicated ({self.unusable})"
        if outside:
            used = [
                f"{name} film frame {index}"
                for name, index, image in zip(("frame0", "frame4"), film.indices, found)
                if image is not None
            ]
            return found, f"neighbours: {' and '.join(outside)} replicated (outside the film)" + (
                f", {used[0]}" if used else ""
            )
        return found, f"neighbours: film frames {film.indices[0]} and {film.indices[1]}"

    def _check(self) -> None:
        if self.checked:
            return
        self.checked = True
        if not self.film.path.is_file():
            self.unusable = f"film missing: {self.film.path}"
        elif content_hash(self.film.path) != self.film.content_hash:
            self.unusable = f"film changed since extraction: {self.film.path}"

    def _frame(self, index: int) -> np.ndarray | None:
        """Frame ``index`` of the film, RGB at the saved size; None outside the film."""
        if index < 0 or (self.film.frame_count is not None and index >= self.film.frame_count):
            return None
        if index in self.held:
            return self.held[index]
        if index <= self.position or self.stream is None:  # behind the stream (or not started): from the start
            self.close()
            try:
                self.stream = open_video(self.film.path, self.film.backend)
            except VideoError as error:
                self.unusable = f"film unreadable: {error}"
                return None
            self.frames, self.position = self.stream.frames(), -1
        for frame in self.frames:
            self.position = frame.index
            if frame.index == index or self.wanted[frame.index] > 0:
                self.held[frame.index] = resize_as_extracted(frame.rgb(), self.film.size)
            if frame.index == index:
                return self.held[index]
        return None  # the film ended first

    def close(self) -> None:
        if self.frames is not None:
            self.frames.close()  # the decoding loop ends before its container closes
        if self.stream is not None:
            self.stream.close()
        self.stream = self.frames = None
