"""Films -> candidate triplets -> kept triplets (paper, section 3.1).

Per film (the unit of work, see :func:`process_film`):
1. **Scan**: decode every frame once, on this thread; on two worker threads, fit its luma into
   the analysis size, compute its SSIM statistics and its SSIM with each earlier frame a
   candidate pairs it with, each pair once (a first-to-last pair is skipped when the candidate
   is already known to fail the band); judge the candidates in order here.
2. **Select**: band verdict, then the redundancy policy (:mod:`.selection`).
3. **Write**: kept triplets' frames as PNG, converted to RGB only when kept, converted and
   encoded by a small thread pool while decoding goes on; each triplet folder is renamed into
   place when complete.
4. **Record**: the film's scan cache (candidates with their SSIMs, frame times and
   thumbnails), its kept triplets, and last its ``source.parquet`` row, the done-marker.

A film whose cache matches (same content, analysis size, intervals and backend, and a band
no wider than the one it was scanned with) is not decoded again: selection is re-run on
the cache and only frames not yet on disk are written. The dataset tables are then merged
from every film's cache.

A long film may instead be scanned in frame ranges, one unit of work each (see
:mod:`.units`): a range is decoded from the film's first frame (frame numbers
are decoded-frame numbers, so there is no seeking) but analysed only from its own first frame,
and on past its end by the largest triplet span, so that every candidate starting in it is
judged; it records its candidates with their band verdicts and its frames' index rows under
``cache/<id>/ranges/<range>/``. :func:`select_ranges` joins the ranges (every frame once, no gap)
and runs the selection once over the whole film, exactly as for an unsplit scan; the kept
triplets' frames are then written range by range (:func:`write_frames`).
"""

from __future__ import annotations

import threading
import time
import traceback
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from atdkit import images, schema
from atdkit.pipelines.extraction import flags, timing
from atdkit.pipelines.extraction.films import Film
from atdkit.pipelines.extraction.selection import THUMBNAIL_SIZE, Band, RedundancyFilter, RedundancyPolicy, thumbnail
from atdkit.sizes import fit_into, format_size
from atdkit.ssim import MIN_SIDE, LumaStats, PairSSIM
from atdkit.store import Dataset, TableWriter, read_table, remove, replace_dir, temporary_sibling, write_table
from atdkit.video import DecodedFrame, VideoError, open_video

Progress = Callable[
    [str, str, float], None
]  # ("start", source_id, frames expected) or ("advance", source_id, frames done)
PAIR_ORDER = ((0, 1), (1, 2), (0, 2))  # positions within a triplet, in the order they are checked
ANALYSIS_BOX = (320, 180)  # the box the luma is fitted into for SSIM, by default


@dataclass(frozen=True)
class ExtractSettings:
    intervals: tuple[int, ...] = (0, 1, 2)
    band: Band = field(default_factory=Band)
    redundancy: RedundancyPolicy = field(default_factory=RedundancyPolicy)
    analysis_size: tuple[int, int] = ANALYSIS_BOX  # box the luma is fitted into for SSIM
    resize: tuple[int, int] | None = None  # size of the saved images; None = source size
    backend: str = "pyav"
    dry_run: bool = False

    def __post_init__(self):
        if not self.intervals or any(k not in (0, 1, 2) for k in self.intervals):
            raise ValueError(f"intervals must be a non-empty subset of 0, 1, 2, got {self.intervals}")
        object.__setattr__(self, "intervals", tuple(sorted(set(self.intervals))))

    @property
    def strides(self) -> tuple[int, ...]:
        return tuple(k + 1 for k in self.intervals)


def triplet_id(source_id: str, start: int, interval: int) -> str:
    return f"{source_id}_{start:06d}_i{interval}"


@dataclass(frozen=True)
class FrameRange:
    """Frames ``start`` to ``stop`` (excluded; None: to the film's end) of a film: the candidates
    starting there are one range's share of a film's scan."""

    start: int = 0
    stop: int | None = None

    def __contains__(self, index: int) -> bool:
        return self.start <= index and (self.stop is None or index < self.stop)

    @property
    def name(self) -> str:
        return f"{self.start:09d}-{'end' if self.stop is None else f'{self.stop:09d}'}"


WHOLE_FILM = FrameRange()


# --------------------------------------------------------------------------- writing


def saved_png(rgb: np.ndarray, resize: tuple[int, int] | None) -> bytes:
    """A decoded frame as a dataset saves it: resized when the settings say so, PNG-encoded (deterministic bytes)."""
    return images.encode(images.resize(rgb, resize) if resize else rgb, ".png")


class TripletWriter:
    """Encodes kept triplets to PNG on worker threads; at most ``pending`` triplets in memory."""

    def __init__(self, dataset: Dataset, settings: ExtractSettings, threads: int = 2, pending: int = 4):
        self._dataset = dataset
        self._resize = settings.resize
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="png")
        self._slots = threading.BoundedSemaphore(pending)
        self._converting = threading.Lock()
        self._futures: list[Future] = []

    def submit(self, tid: str, frames: list[DecodedFrame]) -> None:
        """Write a triplet's frames, converted to RGB on the writing thread."""
        self._slots.acquire()
        future = self._pool.submit(self._write, tid, frames)
        future.add_done_callback(lambda _: self._slots.release())
        self._futures.append(future)

    def _write(self, tid: str, frames: list[DecodedFrame]) -> None:
        final = self._dataset.triplet_dir(tid)
        tmp = temporary_sibling(final)
        tmp.mkdir(parents=True)
        for number, frame in enumerate(frames, start=1):
            with self._converting:  # PyAV converts a frame with a converter of its own: one thread at a time
                rgb = frame.rgb()
            (tmp / f"frame{number}.png").write_bytes(saved_png(rgb, self._resize))
        replace_dir(tmp, final)

    def close(self) -> None:
        """Wait for every write; re-raise the first failure."""
        self._pool.shutdown(wait=True)
        for future in self._futures:
            future.result()


# --------------------------------------------------------------------------- deciding


def judge(band: Band, pair_ssim: Callable[[int, int], float | None]) -> tuple[list[float | None], str | None]:
    """SSIMs of a triplet's pairs in PAIR_ORDER, stopping at the first out of band, and its reason."""
    values: list[float | None] = [None, None, None]
    for k, (a, b) in enumerate(PAIR_ORDER):
        values[k] = pair_ssim(a, b)
        reason = band.verdict(values[k])
        if reason:
            return values, reason
    return values, None


def candidate_row(start: int, interval: int, ssims: list, verdict: str, hints: list | None) -> dict:
    """A candidate as the cache keeps it (schema.CANDIDATES)."""
    return dict(
        start=start,
        interval=interval,
        ssim_12=ssims[0],
        ssim_23=ssims[1],
        ssim_13=ssims[2],
        verdict=verdict,
        flags=hints,
    )


class Selection:
    """Takes a film's judged candidates in (start, interval) order, applies the redundancy
    policy, and records every verdict (to the cache) and every kept triplet."""

    def __init__(self, film: Film, settings: ExtractSettings, out_size: tuple[int, int], verdicts: TableWriter):
        self.film, self.settings, self.out_size = film, settings, out_size
        self.redundancy = RedundancyFilter(settings.redundancy)
        self.verdicts = verdicts
        self.counts: Counter[str] = Counter()
        self.kept: list[dict] = []  # TRIPLETS rows

    def decide(
        self, start: int, interval: int, ssims: list, reason: str | None, hints: list | None, thumbnail_of, time_of
    ) -> dict | None:
        """Record one candidate (``hints``: its pre-screening flags); returns its TRIPLETS row when it is kept."""
        stride = interval + 1
        frames = [start, start + stride, start + 2 * stride]
        verdict = reason or ("kept" if self.redundancy.keep(start, thumbnail_of(frames[1])) else "redundant")
        self.counts[verdict] += 1
        self.verdicts.append(candidate_row(start, interval, ssims, verdict, hints))
        if verdict != "kept":
            return None
        row = dict(
            triplet_id=triplet_id(self.film.source_id, start, interval),
            source_id=self.film.source_id,
            series=self.film.series,
            frames=frames,
            interval=interval,
            timestamps=[time_of(i) for i in frames],
            ssim_12=ssims[0],
            ssim_23=ssims[1],
            ssim_13=ssims[2],
            width=self.out_size[0],
            height=self.out_size[1],
            flags=hints,
        )
        self.kept.append(row)
        return row


class BandVerdicts:
    """Takes a frame range's judged candidates like :class:`Selection` but records only their band
    verdict ("kept" when in band): the redundancy policy runs once the film's ranges are joined."""

    def __init__(self, verdicts: TableWriter):
        self.verdicts = verdicts
        self.counts: Counter[str] = Counter()

    def decide(
        self, start: int, interval: int, ssims: list, reason: str | None, hints: list | None, thumbnail_of, time_of
    ) -> None:
        verdict = reason or "kept"
        self.counts[verdict] += 1
        self.verdicts.append(candidate_row(start, interval, ssims, verdict, hints))


# --------------------------------------------------------------------------- scanning


@dataclass
class _Analysed:
    frame: DecodedFrame
    stats: LumaStats
    thumbnail: np.ndarray
    facts: flags.FrameFacts


class Scanner:
    """Decodes nothing itself: takes a film's frames in order and hands its candidates, judged, to
    a :class:`Selection` in start order, holding only the last 2 * max(stride) + 1 frames.

    The arithmetic is done by :meth:`prepare` (a frame's statistics) and :meth:`measure` (the SSIMs
    of every pair of frames a candidate ending at a frame has), on worker threads, in decoding
    order; :meth:`add` then judges in order from the measured pairs.

    Given a frame range, it judges only the candidates starting in it and indexes only its
    frames; it must then be given the range's frames and the span after it."""

    def __init__(
        self,
        settings: ExtractSettings,
        size: tuple[int, int],
        selection: Selection | BandVerdicts,
        frame_index: TableWriter,
        on_keep: Callable[[dict, list[DecodedFrame]], None],
        frames: FrameRange = WHOLE_FILM,
    ):
        self.settings, self.size, self.selection = settings, size, selection
        self.frame_index, self.on_keep, self.frames = frame_index, on_keep, frames
        self.span = 2 * max(settings.strides)
        self.distances = sorted({k * stride for stride in settings.strides for k in (1, 2)})
        self.window: dict[int, _Analysed] = {}
        self.prepared: dict[int, Future] = {}  # frame -> its prepare() on a worker, until it leaves the window
        self.pairs: dict[tuple[int, int], float] = {}
        self.engines = threading.local()  # a PairSSIM (its buffers) per worker thread
        self.judged: dict[int, list[tuple]] = defaultdict(list)  # start -> (interval, ssims, reason)

    def prepare(self, frame: DecodedFrame) -> _Analysed:
        """A frame's statistics (no shared state: may run on any thread)."""
        luma = frame.luma
        if (luma.shape[1], luma.shape[0]) != self.size:
            luma = cv2.resize(luma, self.size, interpolation=cv2.INTER_AREA)
        return _Analysed(frame, LumaStats.of(luma), thumbnail(luma), flags.FrameFacts(luma))

    def measure(self, j: int) -> None:
        """The SSIMs of frame ``j`` with each earlier frame a candidate ending at ``j`` pairs it with (a
        worker's task, started after the prepare() of frames up to ``j``)."""
        engine = getattr(self.engines, "pair_ssim", None)
        if engine is None:
            engine = self.engines.pair_ssim = PairSSIM(self.size[1], self.size[0])
        last = self.prepared[j].result().stats
        for distance in self.distances:
            earlier = self.prepared.get(j - distance)
            if earlier is not None and self._may_be_judged(j - distance, j):
                self.pairs[j - distance, j] = engine(earlier.result().stats, last)

    def _may_be_judged(self, first: int, last: int) -> bool:
        """False for a first-to-last pair whose candidate already has a pair out of the band (known by now)."""
        stride, odd = divmod(last - first, 2)
        if odd or stride not in self.settings.strides or last - first in self.settings.strides:
            return True
        verdict = self.settings.band.verdict
        halves = (self.pairs.get((first, first + stride)), self.pairs.get((first + stride, last)))
        return not any(value is not None and verdict(value) for value in halves)

    def add(self, analysed: _Analysed) -> None:
        """Take the next frame, in order: judge the candidates it completes."""
        frame = analysed.frame
        j = frame.index
        self.window[j] = analysed
        if j in self.frames:
            self.frame_index.append(dict(index=j, time=frame.time, thumbnail=analysed.thumbnail.tobytes()))
        for stride in self.settings.strides:
            start = j - 2 * stride
            if start >= 0 and start in self.frames:
                frames = (start, start + stride, j)
                ssims, reason = judge(self.settings.band, lambda a, b: self.pairs[frames[a], frames[b]])  # noqa: B023
                hints = None if reason else flags.flags(*(self.window[i].facts for i in frames))
                self.judged[start].append((stride - 1, ssims, reason, hints))
        self._decide(j - self.span)

    def finish(self) -> None:
        for start in sorted(self.judged):
            self._decide(start)

    def _decide(self, start: int) -> None:
        """Every candidate starting at ``start`` is judged: select, and hand over the keeps."""
        for interval, ssims, reason, hints in sorted(self.judged.pop(start, []), key=lambda c: c[0]):
            row = self.selection.decide(
                start,
                interval,
                ssims,
                reason,
                hints,
                lambda i: self.window[i].thumbnail,
                lambda i: self.window[i].frame.time,
            )
            if row:
                self.on_keep(row, [self.window[i].frame for i in row["frames"]])
        self.window.pop(start, None)
        self.prepared.pop(start, None)
        for distance in self.distances:
            self.pairs.pop((start, start + distance), None)


# --------------------------------------------------------------------------- one film


@dataclass
class FilmJob:
    film: Film
    settings: ExtractSettings
    dataset_root: Path


def process_film(job: FilmJob, progress: Progress) -> dict:
    """Scan (or re-select from cache) one film and record it; returns its SOURCES row."""
    ranges = _ranges_dir(Dataset(job.dataset_root), job.film.source_id)
    if ranges.exists():
        remove(ranges)  # an unfinished split scan of the film: this run scans it whole
    return _process(job, WHOLE_FILM, progress)


def scan_range(job: FilmJob, frames: FrameRange, progress: Progress) -> dict:
    """Scan one frame range of a split film into ``cache/<id>/ranges/<range>/``, its
    ``source.parquet`` last: a SOURCES row with the range's band verdict counts and, as
    ``frame_count``, how many frames its stream decoded (for the last range: the film's). A range
    already scanned with these settings by an earlier run is not scanned again."""
    return _process(job, frames, progress)


def _process(job: FilmJob, frames: FrameRange, progress: Progress) -> dict:
    dataset = Dataset(job.dataset_root)
    film, settings = job.film, job.settings
    paths = _cache_paths(dataset, film.source_id, frames)
    started = time.perf_counter()
    try:
        previous = _reusable_record(paths, film, settings)
        if previous is not None and frames != WHOLE_FILM:
            return previous
        paths["source"].unlink(missing_ok=True)  # the done-marker comes back last
        if previous is not None:
            row = _reselect_film(dataset, film, settings, previous, progress)
        else:
            row = _scan_film(dataset, film, settings, progress, frames)
    except VideoError as error:
        row = _source_row(film, settings, status="failed", error=str(error))
    except Exception as error:  # a bug: keep the other films going, keep the traceback
        paths["error"].parent.mkdir(parents=True, exist_ok=True)
        paths["error"].write_text(traceback.format_exc())
        row = _source_row(
            film, settings, status="failed", error=f"internal error: {error!r} (traceback in {paths['error']})"
        )
    row["scan_seconds"] = time.perf_counter() - started
    write_table(paths["source"], [row], schema.SOURCES)
    return row


def _analyse_while_decoding(scanner: Scanner, frames: Iterator[DecodedFrame], ahead: int = 8) -> None:
    """Decode on this thread while two workers prepare and measure frames (FFmpeg, OpenCV and NumPy
    release the GIL), then judge them here, in order; at most ``ahead`` frames waiting."""
    with ThreadPoolExecutor(2, thread_name_prefix="analysis") as workers:
        waiting: deque[tuple[Future, Future]] = deque()
        try:
            for frame in frames:
                prepared = scanner.prepared[frame.index] = workers.submit(scanner.prepare, frame)
                waiting.append((prepared, workers.submit(scanner.measure, frame.index)))
                if len(waiting) > ahead:
                    _add_when_measured(scanner, *waiting.popleft())
            while waiting:
                _add_when_measured(scanner, *waiting.popleft())
        finally:
            for pair in waiting:
                for future in pair:
                    future.cancel()


def _add_when_measured(scanner: Scanner, prepared: Future, measured: Future) -> None:
    measured.result()
    scanner.add(prepared.result())


def _scan_film(
    dataset: Dataset, film: Film, settings: ExtractSettings, progress: Progress, frames: FrameRange = WHOLE_FILM
) -> dict:
    """Scan a film, selecting and writing kept frames as it goes; or scan one frame range of
    it, recording only the band verdicts of the candidates starting there."""
    whole = frames == WHOLE_FILM
    paths = _cache_paths(dataset, film.source_id, frames)
    stream = open_video(film.path, settings.backend)
    try:
        info = stream.info
        size = fit_into(info.width, info.height, settings.analysis_size)
        if min(size) < MIN_SIDE:
            raise VideoError(
                f"frames are {info.width}x{info.height}, smaller than the {MIN_SIDE}x{MIN_SIDE} SSIM window"
            )
        feed = _RangeFeed(stream.frames(), frames, 2 * max(settings.strides))
        progress("start", film.source_id, feed.expected(info.expected_frames))
        verdicts = TableWriter(paths["candidates"], schema.CANDIDATES)
        frame_index = TableWriter(paths["frame_index"], schema.FRAME_INDEX)
        selection = (
            Selection(film, settings, settings.resize or (info.width, info.height), verdicts)
            if whole
            else BandVerdicts(verdicts)
        )
        writer = TripletWriter(dataset, settings) if whole and not settings.dry_run else None

        def on_keep(row: dict, kept_frames: list[DecodedFrame]) -> None:
            if writer:
                writer.submit(row["triplet_id"], kept_frames)

        scanner = Scanner(settings, size, selection, frame_index, on_keep, frames)
        try:
            _analyse_while_decoding(scanner, _reporting(iter(feed), film.source_id, progress))
            scanner.finish()
        except BaseException:
            verdicts.abort()
            frame_index.abort()
            raise
        finally:
            if writer:
                writer.close()
    finally:
        stream.close()
    if not feed.decoded:
        verdicts.abort()
        frame_index.abort()
        raise VideoError("no frame could be decoded" + (f" ({'; '.join(stream.damage)})" if stream.damage else ""))
    verdicts.commit()
    frame_index.commit()
    return _record(
        paths,
        film,
        settings,
        selection.counts,
        selection.kept if whole else None,
        feed.decoded,
        "partial" if stream.damage else "ok",
        "; ".join(stream.damage) or None,
        dict(
            codec=info.codec,
            width=info.width,
            height=info.height,
            fps=info.fps,
            expected_frames=info.expected_frames,
            analysis_width=size[0],
            analysis_height=size[1],
            scan_ssim_low=settings.band.low,
            scan_ssim_high=settings.band.high,
        ),
    )


class _RangeFeed:
    """The frames a scan of ``frames`` analyses, from a stream decoded from its first frame: the
    range's and the ``overlap`` after it (the candidates starting in the range end there).
    ``decoded`` counts every frame decoded, those skipped before the range included."""

    def __init__(self, decoded_frames: Iterator[DecodedFrame], frames: FrameRange, overlap: int):
        self._decoded_frames, self.frames, self.overlap = decoded_frames, frames, overlap
        self.decoded = 0

    def expected(self, film_frames: int | None) -> int:
        """Frames this feed will yield, as far as the header tells (0: unknown)."""
        end = film_frames if self.frames.stop is None else self.frames.stop + self.overlap
        return max(0, end - self.frames.start) if end else 0

    def __iter__(self) -> Iterator[DecodedFrame]:
        try:
            for frame in self._decoded_frames:
                if self.frames.stop is not None and frame.index >= self.frames.stop + self.overlap:
                    break
                self.decoded = frame.index + 1
                if frame.index >= self.frames.start:
                    yield frame
        finally:
            self._decoded_frames.close()


def _reselect_film(dataset: Dataset, film: Film, settings: ExtractSettings, previous: dict, progress: Progress) -> dict:
    paths = _cache_paths(dataset, film.source_id)
    frames = read_table(paths["frame_index"], schema.FRAME_INDEX)
    verdicts = TableWriter(paths["candidates"], schema.CANDIDATES)
    selection = Selection(film, settings, settings.resize or (previous["width"], previous["height"]), verdicts)
    try:
        _select_cached(selection, settings.band, [paths["candidates"]], frames)
        if not settings.dry_run:
            resized = previous["resize"] != format_size(settings.resize)
            missing = [t for t in selection.kept if resized or not dataset.triplet_dir(t["triplet_id"]).is_dir()]
            if missing:
                _write_frames(dataset, film, settings, missing, progress)
    except BaseException:
        verdicts.abort()
        raise
    verdicts.commit()
    return _record(
        paths,
        film,
        settings,
        selection.counts,
        selection.kept,
        frames.num_rows,
        previous["status"],
        previous["error"],
        {k: previous[k] for k in _SCAN_FACTS},
    )


def _select_cached(selection: Selection, band: Band, candidates: list[Path], frames: pa.Table) -> None:
    """Run ``selection`` over cached candidates (files in film order) with their stored pair SSIMs;
    ``frames``: the film's FRAME_INDEX rows."""
    times = frames["time"].to_numpy()
    thumbnails = np.frombuffer(b"".join(frames["thumbnail"].to_pylist()), np.uint8).reshape(
        -1, THUMBNAIL_SIZE[1], THUMBNAIL_SIZE[0]
    )
    for path in candidates:
        for batch in pq.ParquetFile(path).iter_batches(batch_size=65536):
            for cached in batch.to_pylist():
                stored = dict(zip(PAIR_ORDER, (cached["ssim_12"], cached["ssim_23"], cached["ssim_13"])))
                ssims, reason = judge(band, lambda a, b: stored[a, b])  # noqa: B023
                selection.decide(
                    cached["start"],
                    cached["interval"],
                    ssims,
                    reason,
                    None if reason else cached["flags"],
                    thumbnails.__getitem__,
                    lambda i: float(times[i]),
                )


def _write_frames(
    dataset: Dataset, film: Film, settings: ExtractSettings, triplets: list[dict], progress: Progress
) -> None:
    """Decode the film again only to write the given triplets' frames (no analysis)."""
    wanted: dict[int, list[dict]] = defaultdict(list)
    for t in triplets:
        for index in t["frames"]:
            wanted[index].append(t)
    last = max(wanted)
    span = 2 * max(settings.strides)
    stream = open_video(film.path, settings.backend)
    progress("start", film.source_id, last + 1)
    writer = TripletWriter(dataset, settings)
    held: dict[int, DecodedFrame] = {}
    decoded = 0
    try:
        for frame in _reporting(stream.frames(), film.source_id, progress):
            decoded = frame.index + 1
            if frame.index in wanted:
                held[frame.index] = frame
                for t in wanted[frame.index]:
                    if t["frames"][-1] == frame.index:
                        writer.submit(t["triplet_id"], [held[i] for i in t["frames"]])
                for index in [i for i in held if i < frame.index - span]:
                    del held[index]
            if decoded > last:
                break
    finally:
        writer.close()
        stream.close()
    if decoded <= last:
        raise VideoError(f"now decodes to {decoded} frames, fewer than when it was scanned")


def _reporting(
    frames: Iterator[DecodedFrame], source_id: str, progress: Progress, every: float = 0.2
) -> Iterator[DecodedFrame]:
    last_report, done = time.perf_counter(), 0
    for frame in frames:
        yield frame
        done += 1
        now = time.perf_counter()
        if now - last_report >= every:
            progress("advance", source_id, done)
            last_report, done = now, 0
    progress("advance", source_id, done)


# --------------------------------------------------------------------------- cache and records


def _cache_paths(dataset: Dataset, source_id: str, frames: FrameRange = WHOLE_FILM) -> dict[str, Path]:
    folder = dataset.source_cache(source_id) if frames == WHOLE_FILM else _ranges_dir(dataset, source_id) / frames.name
    paths = {name: folder / f"{name}.parquet" for name in ("candidates", "frame_index", "triplets", "shots", "source")}
    paths["error"] = folder / "error.log"
    return paths


def _ranges_dir(dataset: Dataset, source_id: str) -> Path:
    return dataset.source_cache(source_id) / "ranges"


def _reusable_record(paths: dict[str, Path], film: Film, settings: ExtractSettings) -> dict | None:
    """The film's previous SOURCES row, when its cache can serve these settings without decoding."""
    if not paths["source"].exists():
        return None
    previous = read_table(paths["source"], schema.SOURCES).to_pylist()[0]
    if previous["status"] == "failed":
        return None
    same_scan = (
        previous["content_hash"] == film.content_hash
        and previous["backend"] == settings.backend
        and tuple(previous["intervals"]) == settings.intervals
        and previous["analysis_box"] == format_size(settings.analysis_size)
        and Band(previous["scan_ssim_low"], previous["scan_ssim_high"]).contains(settings.band)
    )
    return previous if same_scan else None


_SCAN_FACTS = (
    "codec",
    "width",
    "height",
    "fps",
    "expected_frames",
    "analysis_width",
    "analysis_height",
    "scan_ssim_low",
    "scan_ssim_high",
)


def _record(
    paths, film, settings, counts: Counter, kept: list[dict] | None, frame_count: int, status, error, extra
) -> dict:
    """Write the kept triplets and the film's shots (a frame range has neither yet); return the SOURCES row
    (written last by the caller)."""
    film_timing = {}
    if kept is not None:
        write_table(paths["triplets"], kept, schema.TRIPLETS)
        film_timing = _write_timing(paths, film.source_id, settings.band, frame_count)
    paths["error"].unlink(missing_ok=True)
    return _source_row(
        film,
        settings,
        **film_timing,
        status=status,
        error=error,
        frame_count=frame_count,
        duration=frame_count / extra["fps"] if extra["fps"] else None,
        candidates=sum(counts.values()),
        kept=counts["kept"],
        **{f"rejected_{reason}": counts[reason] for reason in schema.REJECTION_REASONS},
        **extra,
    )


def _write_timing(paths: dict[str, Path], source_id: str, band: Band, frame_count: int) -> dict:
    """The film's shots from its cached consecutive pair SSIMs, written to the cache; its SOURCES timing values."""
    columns = read_table(paths["candidates"], schema.CANDIDATES).select(["start", "interval", "ssim_12", "ssim_23"])
    consecutive = timing.consecutive_ssims(
        {name: columns[name].to_numpy(zero_copy_only=False) for name in columns.column_names}, frame_count
    )
    if consecutive is None:
        paths["shots"].unlink(missing_ok=True)
        return {}
    thumbnails = read_table(paths["frame_index"], schema.FRAME_INDEX)["thumbnail"].to_pylist()
    shape = (len(thumbnails), THUMBNAIL_SIZE[1], THUMBNAIL_SIZE[0])
    shots = timing.shots(consecutive, np.frombuffer(b"".join(thumbnails), np.uint8).reshape(shape), band)
    rows = [
        dict(
            source_id=source_id,
            shot=number,
            start=shot.start,
            stop=shot.stop,
            drawings=len(shot.holds),
            **{f"on_{name}": share for name, share in shot.shares().items()},
            pattern=timing.pattern(shot.shares()),
        )
        for number, shot in enumerate(shots)
    ]
    write_table(paths["shots"], rows, schema.SHOTS)
    holds = [hold for shot in shots for hold in shot.holds]
    shares = timing.hold_shares(holds)
    return dict(shots=len(shots), drawings=len(holds), **{f"on_{name}": share for name, share in shares.items()})


def _source_row(film: Film, settings: ExtractSettings, **values) -> dict:
    row = dict(
        source_id=film.source_id,
        series=film.series,
        path=str(film.path),
        content_hash=film.content_hash,
        backend=settings.backend,
        intervals=list(settings.intervals),
        ssim_low=settings.band.low,
        ssim_high=settings.band.high,
        min_gap=settings.redundancy.min_gap,
        min_change=settings.redundancy.min_change,
        resize=format_size(settings.resize),
        analysis_box=format_size(settings.analysis_size),
    )
    row.update(values)
    return {name: row.get(name) for name in schema.SOURCES.names}


def merge_tables(dataset: Dataset) -> tuple[pa.Table, pa.Table]:
    """Rebuild ``triplets.parquet`` and ``sources.parquet`` from every film's done-marker."""
    sources, triplets, shots = [], [], []
    for source_id in dataset.cached_source_ids():
        paths = _cache_paths(dataset, source_id)
        if not paths["source"].exists():
            continue  # unfinished: a later run completes it
        row = read_table(paths["source"], schema.SOURCES)
        sources.append(row)
        if row["status"][0].as_py() != "failed" and paths["triplets"].exists():
            triplets.append(read_table(paths["triplets"], schema.TRIPLETS))
        if row["status"][0].as_py() != "failed" and paths["shots"].exists():
            shots.append(read_table(paths["shots"], schema.SHOTS))
    source_table = pa.concat_tables(sources) if sources else schema.SOURCES.empty_table()
    triplet_table = pa.concat_tables(triplets) if triplets else schema.TRIPLETS.empty_table()
    dataset.write("triplets", triplet_table.sort_by("triplet_id"))
    dataset.write("sources", source_table.sort_by("source_id"))
    dataset.write("shots", pa.concat_tables(shots) if shots else schema.SHOTS.empty_table())
    return triplet_table, source_table


# --------------------------------------------------------------------------- a split film


def plan_ranges(job: FilmJob, split_frames: int | None) -> list[FrameRange]:
    """The units to scan a film in: ``[WHOLE_FILM]``, or, when its header says it is longer than
    ``split_frames`` and its cache cannot be re-selected instead, ranges of ``split_frames``
    frames, the last one open-ended (a header may count short). For a split film, its
    done-marker goes now (it comes back last) and so do range scans of another split."""
    if not split_frames:
        return [WHOLE_FILM]
    dataset, film = Dataset(job.dataset_root), job.film
    paths = _cache_paths(dataset, film.source_id)
    if _reusable_record(paths, film, job.settings) is not None:
        return [WHOLE_FILM]
    try:
        stream = open_video(film.path, job.settings.backend)
    except VideoError:
        return [WHOLE_FILM]  # process_film says why
    expected = stream.info.expected_frames
    stream.close()
    if not expected or expected <= split_frames:
        return [WHOLE_FILM]
    starts = range(0, expected, split_frames)
    ranges = [FrameRange(start, start + split_frames) for start in starts[:-1]] + [FrameRange(starts[-1])]
    paths["source"].unlink(missing_ok=True)
    folder = _ranges_dir(dataset, film.source_id)
    for scanned in folder.iterdir() if folder.is_dir() else ():
        if scanned.name not in {frames.name for frames in ranges}:
            remove(scanned)
    return ranges


def select_ranges(job: FilmJob, ranges: list[FrameRange], scanned: list[dict]) -> tuple[dict, list[dict]]:
    """Join a split film's scanned ranges (``scanned``: their rows, in order) into its cache and
    select over the whole film at once, as an unsplit scan does (the redundancy policy is
    sequential); returns the film's SOURCES row, to be written once the kept triplets' frames are
    (:func:`finish_film`), and those triplets."""
    dataset = Dataset(job.dataset_root)
    film, settings = job.film, job.settings
    failed = next((row for row in scanned if row["status"] == "failed"), None)
    if failed is not None:
        return failure_row(job, failed["error"]), []
    last = scanned[-1]  # it decoded the whole film: its frame count, damage and stream facts are the film's
    parts = [_cache_paths(dataset, film.source_id, frames) for frames in ranges]
    frames = pa.concat_tables([read_table(part["frame_index"], schema.FRAME_INDEX) for part in parts])
    frame_count = last["frame_count"]
    if frames["index"].to_pylist() != list(range(frame_count)):
        raise RuntimeError(f"{film.source_id}: its frame ranges do not index frames 0-{frame_count - 1} once each")
    paths = _cache_paths(dataset, film.source_id)
    write_table(paths["frame_index"], frames, schema.FRAME_INDEX)
    verdicts = TableWriter(paths["candidates"], schema.CANDIDATES)
    selection = Selection(film, settings, settings.resize or (last["width"], last["height"]), verdicts)
    try:
        _select_cached(selection, settings.band, [part["candidates"] for part in parts], frames)
        if sum(selection.counts.values()) != sum(max(0, frame_count - 2 * stride) for stride in settings.strides):
            raise RuntimeError(f"{film.source_id}: its frame ranges do not hold every candidate once")
    except BaseException:
        verdicts.abort()
        raise
    verdicts.commit()
    row = _record(
        paths,
        film,
        settings,
        selection.counts,
        selection.kept,
        frame_count,
        last["status"],
        last["error"],
        {k: last[k] for k in _SCAN_FACTS},
    )
    return row, selection.kept


def write_frames(job: FilmJob, triplets: list[dict], progress: Progress) -> int:
    """Write kept triplets' frames, decoding the film again (a split film's second units of work,
    one per range); returns how many triplets."""
    _write_frames(Dataset(job.dataset_root), job.film, job.settings, triplets, progress)
    return len(triplets)


def failure_row(job: FilmJob, error: str) -> dict:
    return _source_row(job.film, job.settings, status="failed", error=error)


def finish_film(job: FilmJob, row: dict) -> None:
    """Write a split film's done-marker, last. Its range scans go once it succeeded; a failed
    film keeps them, so that a re-run scans only the ranges that failed."""
    dataset = Dataset(job.dataset_root)
    write_table(_cache_paths(dataset, job.film.source_id)["source"], [row], schema.SOURCES)
    if row["status"] != "failed":
        remove(_ranges_dir(dataset, job.film.source_id))
