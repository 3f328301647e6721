"""Per-triplet motion statistics (paper, section 3): ``atdkit stats`` -> ``DATASET_DIR/motion.parquet``.

For every triplet:
1. frame1 and frame3 are read and area-resized to fit the flow box (default 960x540, aspect
   kept, never upscaled);
2. the flow frame1 -> frame3 and frame3 -> frame1 is estimated (:mod:`.flow`, OpenCV
   DIS by default) and its vectors scaled to the saved images' resolution;
3. ``flow_mean`` and ``flow_std`` are the mean and standard deviation of the displacement
   magnitude over every pixel of both flows, in pixels of the saved images;
4. ``occlusion_ratio`` is the share of occluded pixels, averaged over both directions. A
   pixel x with flow f to the other frame is occluded when x + f falls outside the frame
   (what leaves the picture has no match), or when it fails the forward-backward check of
   Sundaram, Brox and Keutzer (ECCV 2010), |f + b|^2 > 0.01 (|f|^2 + |b|^2) + 0.5 with b
   the flow back from x + f (bilinear, flow-box pixels), *and* its colour differs from the
   colour at x + f by more than 24 (of 255) in some RGB channel. The colour condition keeps
   flat areas out: there DIS's flow is arbitrary and fails the check, but any match has the
   right colour, so nothing is hidden or revealed that an interpolator would miss;
5. ``suggested_difficulty`` follows from the motion and the occlusion (:mod:`.difficulty`).

Triplets are measured in chunks of at most PART_ROWS, one unit of work each, on an executor
(:mod:`atdkit.pipelines.executors`: a local process pool or a Ray cluster). Each chunk saves its rows
itself, atomically, as a part under ``stats/motion-parts/``; a run that is interrupted, even
with ``kill -9``, resumes from them. The driver writes the table last, atomically; rows
measured with another flow method or box are measured again.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from atdkit import schema
from atdkit.images import ImageError, read_rgb
from atdkit.pipelines.executors import ExecutorChoice, NodeTally
from atdkit.pipelines.executors import Progress as UnitProgress
from atdkit.pipelines.statistics.difficulty import Agreement, Thresholds, agreement, calibrate, motion_percent
from atdkit.pipelines.statistics.flow import FlowEstimator, make_estimator
from atdkit.progress import RateColumn
from atdkit.sizes import fit_into, format_size, parse_size
from atdkit.store import Dataset, remove, write_file, write_table

CONSISTENCY_ALPHA, CONSISTENCY_BETA = 0.01, 0.5  # forward-backward check, flow-box pixels squared
COLOUR_TOLERANCE = 24  # largest RGB channel difference (0-255) between a pixel and its match
PART_ROWS = 16


def stats_dir(dataset: Dataset) -> Path:
    return dataset.root / "stats"


def thresholds_path(dataset: Dataset) -> Path:
    return stats_dir(dataset) / "difficulty_thresholds.json"


def parts_dir(dataset: Dataset) -> Path:
    return stats_dir(dataset) / "motion-parts"


@dataclass(frozen=True)
class FlowSettings:
    method: str = "dis"
    box: tuple[int, int] = (960, 540)  # the flow is estimated on frames fitted into this box

    def metadata(self) -> dict[bytes, bytes]:
        """Saved in motion.parquet's schema: rows are reused only by a run with the same settings."""
        return {b"atdkit.flow": self.method.encode(), b"atdkit.flow_box": format_size(self.box).encode()}

    def describe(self) -> str:
        return f"{self.method} flow on frames fitted into {format_size(self.box)}"

    @classmethod
    def of_table(cls, path: Path) -> FlowSettings:
        """The settings a saved motion table was measured with."""
        metadata = pq.read_schema(path).metadata or {}
        return cls(
            metadata.get(b"atdkit.flow", b"dis").decode(),
            parse_size(metadata.get(b"atdkit.flow_box", b"960x540").decode()),
        )


@functools.lru_cache(maxsize=4)
def _pixel_grid(height: int, width: int) -> np.ndarray:
    """(H, W, 2) float32: each pixel's (x, y)."""
    xs, ys = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    return np.dstack([xs, ys])


def _squared_norm(vectors: np.ndarray) -> np.ndarray:
    x, y = cv2.split(vectors)
    return cv2.add(cv2.multiply(x, x), cv2.multiply(y, y))


def occluded(first: np.ndarray, second: np.ndarray, forward: np.ndarray, backward: np.ndarray) -> np.ndarray:
    """Pixels of ``first`` without a consistent match in ``second``, given the flows between them.

    A pixel is occluded when its match falls outside the frame, or when the backward flow at
    its match does not bring it back (forward-backward check) and the colours differ there.
    """
    height, width = forward.shape[:2]
    target = _pixel_grid(height, width) + forward
    inside = cv2.inRange(target, (-0.5, -0.5), (width - 0.5, height - 0.5)) > 0  # on a pixel of the frame
    back = cv2.remap(backward, target, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    matched = cv2.remap(second, target, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    tolerance = CONSISTENCY_ALPHA * (_squared_norm(forward) + _squared_norm(back)) + CONSISTENCY_BETA
    inconsistent = _squared_norm(forward + back) > tolerance
    channels = cv2.split(cv2.absdiff(first, matched))
    recoloured = functools.reduce(cv2.max, channels) > COLOUR_TOLERANCE
    return ~inside | (inconsistent & recoloured)


def flow_statistics(frame1: np.ndarray, frame3: np.ndarray, estimate: FlowEstimator, box: tuple[int, int]) -> dict:
    """``flow_mean``, ``flow_std`` (pixels of the given frames) and ``occlusion_ratio`` of one triplet."""
    height, width = frame1.shape[:2]
    size = fit_into(width, height, box)
    if size != (width, height):
        frame1, frame3 = (cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in (frame1, frame3))
    forward, backward = estimate(frame1, frame3), estimate(frame3, frame1)
    scale_x, scale_y = width / size[0], height / size[1]
    magnitudes = [cv2.magnitude(flow[..., 0] * scale_x, flow[..., 1] * scale_y) for flow in (forward, backward)]
    mean, std = (float(v[0, 0]) for v in cv2.meanStdDev(np.vstack(magnitudes)))
    occlusion = (
        occluded(frame1, frame3, forward, backward).mean() + occluded(frame3, frame1, backward, forward).mean()
    ) / 2
    return {"flow_mean": mean, "flow_std": std, "occlusion_ratio": float(occlusion)}


def measure_triplet(folder: Path, estimate: FlowEstimator, box: tuple[int, int]) -> dict:
    frame1, frame3 = read_rgb(folder / "frame1.png"), read_rgb(folder / "frame3.png")
    if frame1.shape != frame3.shape:
        sizes = [f"{f.shape[1]}x{f.shape[0]}" for f in (frame1, frame3)]
        raise ImageError(f"{folder}: frame1.png is {sizes[0]} but frame3.png is {sizes[1]}")
    return flow_statistics(frame1, frame3, estimate, box)


# --------------------------------------------------------------------------- units of work


def measure_chunk(
    jobs: list[tuple[str, str]], settings: FlowSettings, part: str, progress: UnitProgress
) -> tuple[list[dict], list[str]]:
    """Measure a chunk of (triplet_id, folder) and save the rows as the part file ``part``
    (atomically); returns the rows and one line per triplet that could not be measured."""
    estimate = make_estimator(settings.method)
    rows, errors = [], []
    for triplet_id, folder in jobs:
        try:
            rows.append(
                {
                    "triplet_id": triplet_id,
                    **measure_triplet(Path(folder), estimate, settings.box),
                    "suggested_difficulty": None,
                }
            )
        except ImageError as error:
            errors.append(str(error))
        progress("advance", triplet_id, 1)
    if rows:
        write_table(Path(part), rows, schema.MOTION.with_metadata(settings.metadata()))
    return rows, errors


def _chunks(jobs: list[tuple[str, str]], workers: int) -> list[list[tuple[str, str]]]:
    """At most PART_ROWS triplets each, and enough chunks to keep every worker busy."""
    size = max(1, min(PART_ROWS, math.ceil(len(jobs) / max(1, workers))))
    return [jobs[i : i + size] for i in range(0, len(jobs), size)]


# --------------------------------------------------------------------------- the table


@dataclass
class MotionReport:
    table: pa.Table  # MOTION rows of every triplet measured so far, in triplets.parquet order
    settings: FlowSettings
    thresholds: Thresholds
    measured: int  # triplets measured by this run
    reused: int  # triplets whose statistics came from an earlier run
    seconds: float  # time spent measuring
    errors: list[str]  # one line per triplet that could not be measured
    nodes: NodeTally = field(default_factory=NodeTally)  # what each node measured

    @property
    def rate(self) -> float:
        return self.measured / self.seconds if self.seconds else 0.0


def _saved_rows(path: Path, settings: FlowSettings) -> list[dict]:
    """MOTION rows of a table or part at ``path`` when it was measured with ``settings``."""
    try:
        metadata = pq.read_schema(path).metadata or {}
        if any(metadata.get(k) != v for k, v in settings.metadata().items()):
            return []
        return pq.read_table(path, schema=schema.MOTION).to_pylist()
    except (pa.ArrowException, OSError):
        return []


def with_suggestions(rows: Iterable[dict], triplets: pa.Table, thresholds: Thresholds) -> pa.Table:
    """MOTION table of ``rows`` in ``triplets`` order, ``suggested_difficulty`` from ``thresholds``."""
    by_id = {row["triplet_id"]: row for row in rows}
    order = [
        (t, w, h)
        for t, w, h in zip(*(triplets[c].to_pylist() for c in ("triplet_id", "width", "height")))
        if t in by_id
    ]
    measured = [by_id[t] for t, _, _ in order]
    flow_mean = np.array([r["flow_mean"] for r in measured], float)
    occlusion = np.array([r["occlusion_ratio"] for r in measured], float)
    sizes = np.array([(w, h) for _, w, h in order], float).reshape(-1, 2)
    levels = thresholds.levels(motion_percent(flow_mean, sizes[:, 0], sizes[:, 1]), occlusion)
    return pa.Table.from_pylist(
        [{**row, "suggested_difficulty": schema.DIFFICULTIES[level]} for row, level in zip(measured, levels)],
        schema=schema.MOTION,
    )


def recorded_thresholds(path: Path) -> Thresholds | None:
    """The thresholds a saved motion table's suggestions were made with."""
    recorded = (pq.read_schema(path).metadata or {}).get(b"atdkit.difficulty_thresholds")
    return Thresholds.from_json(recorded.decode()) if recorded else None


def write_motion(dataset: Dataset, table: pa.Table, settings: FlowSettings, thresholds: Thresholds) -> None:
    metadata = {**settings.metadata(), b"atdkit.difficulty_thresholds": thresholds.to_json().encode()}
    dataset.write("motion", table, metadata)


def compute_motion(
    dataset: Dataset,
    flow: str = "dis",
    flow_box: tuple[int, int] = (960, 540),
    executor: ExecutorChoice = ExecutorChoice(),
    console: Console | None = None,
    thresholds: Thresholds | None = None,
) -> MotionReport:
    """Measure every triplet of ``dataset`` not measured yet and write ``motion.parquet``.

    ``thresholds`` default to ``stats/difficulty_thresholds.json`` (a calibration) or else the
    defaults. ``console`` shows a progress bar. Raises DatasetError, ValueError (unknown flow
    method), ExecutorError.
    """
    settings = FlowSettings(flow, tuple(flow_box))
    make_estimator(flow)  # an unknown name fails here, before any work
    executor.check()
    thresholds = thresholds or Thresholds.load(thresholds_path(dataset))
    triplets = dataset.read("triplets", required=True)
    with dataset.writing():
        done: dict[str, dict] = {}
        for path in [dataset.table_path("motion"), *sorted(parts_dir(dataset).glob("part-*.parquet"))]:
            if path.is_file():
                done.update((row["triplet_id"], row) for row in _saved_rows(path, settings))
        ids = triplets["triplet_id"].to_pylist()
        jobs = [(t, str(dataset.triplet_dir(t))) for t in ids if t not in done]
        reused = len(ids) - len(jobs)
        errors: list[str] = []
        nodes = NodeTally()
        started = time.perf_counter()
        with _progress(console) as progress:
            task = progress.add_task("measuring motion", total=len(jobs))
            with executor.open(lambda event, _, value: progress.advance(task, value)) as units:
                for chunk in _chunks(jobs, units.workers):
                    units.submit(
                        chunk[0][0],
                        measure_chunk,
                        chunk,
                        settings,
                        str(parts_dir(dataset) / f"part-{chunk[0][0]}.parquet"),
                    )
                for outcome in units.results():
                    if outcome.failed:
                        errors.append(f"triplets from {outcome.name} on: {outcome.error}")
                        nodes.add(outcome)
                        continue
                    rows, failures = outcome.value
                    done.update((row["triplet_id"], row) for row in rows)
                    errors.extend(failures)
                    nodes.add(outcome, len(rows))
        seconds = time.perf_counter() - started
        table = with_suggestions(done.values(), triplets, thresholds)
        write_motion(dataset, table, settings, thresholds)
        if parts_dir(dataset).exists():
            remove(parts_dir(dataset))
    measured = sum(facts.amount for facts in nodes.nodes.values())
    return MotionReport(table, settings, thresholds, int(measured), reused, seconds, errors, nodes)


def _progress(console: Console | None) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn("triplets"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=console is None,
    )


def histograms_path(dataset: Dataset) -> Path:
    return stats_dir(dataset) / "motion_histograms.png"


def write_histograms(dataset: Dataset, motion: pa.Table, compare: Dataset | None = None) -> Path:
    """Fig. 3b-style normalised histograms at ``stats/motion_histograms.png``, ``compare`` overlaid."""
    from atdkit.pipelines.statistics import plots  # matplotlib: imported when needed, measuring workers never are

    datasets = {dataset.root.name or str(dataset.root): motion}
    if compare is not None:
        other = compare.read("motion", required=True)
        name = compare.root.name if compare.root.name not in datasets else str(compare.root)
        datasets[name] = other
    path = histograms_path(dataset)
    write_file(path, plots.motion_histograms(datasets))
    return path


# --------------------------------------------------------------------------- calibration


@dataclass
class Calibration:
    before: Thresholds
    after: Thresholds
    agreement_before: Agreement
    agreement_after: Agreement
    table: pa.Table  # motion.parquet with suggestions from the fitted thresholds


def human_levels(dataset: Dataset, motion: pa.Table) -> tuple[pa.Table, np.ndarray]:
    """The triplets of ``motion`` with a human difficulty in labels.parquet, and those levels."""
    labels = dataset.read("labels", required=True)
    difficulty = {
        t: d
        for t, d in zip(labels["triplet_id"].to_pylist(), labels["difficulty"].to_pylist())
        if d in schema.DIFFICULTIES
    }
    rows = [row for row in motion.to_pylist() if row["triplet_id"] in difficulty]
    levels = np.array([schema.DIFFICULTIES.index(difficulty[r["triplet_id"]]) for r in rows], int)
    return pa.Table.from_pylist(rows, schema=schema.MOTION), levels


def suggestion_agreement(dataset: Dataset, motion: pa.Table) -> Agreement | None:
    """How motion.parquet's suggestions agree with the human difficulties; None without labels."""
    if not dataset.has("labels"):
        return None
    labelled, human = human_levels(dataset, motion)
    suggested = [schema.DIFFICULTIES.index(d) for d in labelled["suggested_difficulty"].to_pylist()]
    return agreement(human, np.array(suggested, int)) if len(human) else None


def calibrate_dataset(dataset: Dataset) -> Calibration:
    """Fit the difficulty thresholds to labels.parquet, save them and re-suggest every triplet."""
    motion = dataset.read("motion", required=True)
    triplets = dataset.read("triplets", required=True)
    labelled, human = human_levels(dataset, motion)
    sizes = {t: (w, h) for t, w, h in zip(*(triplets[c].to_pylist() for c in ("triplet_id", "width", "height")))}
    width, height = np.array([sizes[t] for t in labelled["triplet_id"].to_pylist()], float).reshape(-1, 2).T
    percent = motion_percent(labelled["flow_mean"].to_numpy(), width, height)
    occlusion = labelled["occlusion_ratio"].to_numpy()
    before = Thresholds.load(thresholds_path(dataset))
    after = calibrate(percent, occlusion, human, start=before)
    fitted = agreement(human, after.levels(percent, occlusion))
    with dataset.writing():
        after.save(thresholds_path(dataset), fitted_on=len(human), kappa=fitted.kappa)
        table = with_suggestions(motion.to_pylist(), triplets, after)
        write_motion(dataset, table, FlowSettings.of_table(dataset.table_path("motion")), after)
    return Calibration(before, after, agreement(human, before.levels(percent, occlusion)), fitted, table)
