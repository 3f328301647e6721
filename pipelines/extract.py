"""Films -> candidate triplets -> kept triplets (paper, section 3.1).

Per film (the unit of work, see :func:`process_film`):
1. **Scan**: decode every frame once; on a small luma copy (the analysis size) compute the
   SSIM of each pair a candidate needs, lazily (a pair is computed only when no earlier
   pair of the same candidate already failed the band, and at most once).
2. **Select**: band verdict, then the redundancy policy (``pipelines/selection.py``).
3. **Write**: kept triplets' frames as PNG, converted to RGB only when kept, encoded by a
   small thread pool while decoding goes on; each triplet folder is renamed into place
   when complete.
4. **Record**: the film's scan cache (candidates with their SSIMs, frame times and
   thumbnails), its kept triplets, and last its ``source.parquet`` row, the done-marker.

A film whose cache matches (same content, analysis size, intervals and backend, and a band
no wider than the one it was scanned with) is not decoded again: selection is re-run on
the cache and only frames not yet on disk are written. The dataset tables are then merged
from every film's cache.
"""
from __future__ import annotations

import multiprocessing
import threading
import time
import traceback
from collections import Counter, defaultdict, deque
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import cv2
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from atdkit import schema
from atdkit.sizes import format_size
from atdkit.ssim import MIN_SIDE, LumaStats, PairSSIM
from atdkit.store import Dataset, TableWriter, read_table, replace_dir, temporary_sibling, write_table
from atdkit.video import DecodedFrame, VideoError, open_video
from pipelines.films import Film
from pipelines.selection import THUMBNAIL_SIZE, Band, RedundancyFilter, RedundancyPolicy, thumbnail

Progress = Callable[[str, str, float], None]  # (event, source_id, value)
PAIR_ORDER = ((0, 1), (1, 2), (0, 2))  # positions within a triplet, in the order they are checked


@dataclass(frozen=True)
class ExtractSettings:
    intervals: tuple[int, ...] = (0, 1, 2)
    band: Band = field(default_factory=Band)
    redundancy: RedundancyPolicy = field(default_factory=RedundancyPolicy)
    analysis_size: tuple[int, int] = (320, 180)  # box the luma is fitted into for SSIM
    resize: tuple[int, int] | None = None  # size of the saved images; None = source size
    backend: str = "pyav"
    dry_run: bool = False
    png_compression: int = 1  # 0-9: fast and still lossless

    def __post_init__(self):
        if not self.intervals or any(k not in (0, 1, 2) for k in self.intervals):
            raise ValueError(f"intervals must be a non-empty subset of 0, 1, 2, got {self.intervals}")
        object.__setattr__(self, "intervals", tuple(sorted(set(self.intervals))))

    @property
    def strides(self) -> tuple[int, ...]:
        return tuple(k + 1 for k in self.intervals)


def analysis_size(width: int, height: int, box: tuple[int, int]) -> tuple[int, int]:
    """(width, height) fitted into ``box`` with the aspect kept, never upscaled."""
    scale = min(1.0, box[0] / width, box[1] / height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def triplet_id(source_id: str, start: int, interval: int) -> str:
    return f"{source_id}_{start:06d}_i{interval}"


# --------------------------------------------------------------------------- writing


class TripletWriter:
    """Encodes kept triplets to PNG on worker threads; at most ``pending`` triplets in memory."""

    def __init__(self, dataset: Dataset, settings: ExtractSettings, threads: int = 2, pending: int = 4):
        self._dataset = dataset
        self._resize = settings.resize
        self._params = [cv2.IMWRITE_PNG_COMPRESSION, settings.png_compression]
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="png")
        self._slots = threading.BoundedSemaphore(pending)
        self._futures: list[Future] = []

    def submit(self, tid: str, rgb_frames: list[np.ndarray]) -> None:
        self._slots.acquire()
        future = self._pool.submit(self._write, tid, rgb_frames)
        future.add_done_callback(lambda _: self._slots.release())
        self._futures.append(future)

    def _write(self, tid: str, rgb_frames: list[np.ndarray]) -> None:
        final = self._dataset.triplet_dir(tid)
        tmp = temporary_sibling(final)
        tmp.mkdir(parents=True)
        for number, rgb in enumerate(rgb_frames, start=1):
            if self._resize and (rgb.shape[1], rgb.shape[0]) != self._resize:
                shrinking = self._resize[0] < rgb.shape[1]
                rgb = cv2.resize(rgb, self._resize, interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC)
            ok, png = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), self._params)
            if not ok:
                raise OSError(f"PNG encoding failed for {tid}")
            (tmp / f"frame{number}.png").write_bytes(png.tobytes())
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


class Selection:
    """Takes a film's judged candidates in (start, interval) order, applies the redundancy
    policy, and records every verdict (to the cache) and every kept triplet."""

    def __init__(self, film: Film, settings: ExtractSettings, out_size: tuple[int, int], verdicts: TableWriter):
        self.film, self.settings, self.out_size = film, settings, out_size
        self.redundancy = RedundancyFilter(settings.redundancy)
        self.verdicts = verdicts
        self.counts: Counter[str] = Counter()
        self.kept: list[dict] = []  # TRIPLETS rows

    def decide(self, start: int, interval: int, ssims: list, reason: str | None, thumbnail_of, time_of) -> dict | None:
        """Record one candidate; returns its TRIPLETS row when it is kept."""
        stride = interval + 1
        frames = [start, start + stride, start + 2 * stride]
        verdict = reason or ("kept" if self.redundancy.keep(start, thumbnail_of(frames[1])) else "redundant")
        self.counts[verdict] += 1
        self.verdicts.append(dict(start=start, interval=interval, ssim_12=ssims[0], ssim_23=ssims[1], ssim_13=ssims[2], verdict=verdict))
        if verdict != "kept":
            return None
        row = dict(
            triplet_id=triplet_id(self.film.source_id, start, interval), source_id=self.film.source_id, series=self.film.series,
            frames=frames, interval=interval, timestamps=[time_of(i) for i in frames],
            ssim_12=ssims[0], ssim_23=ssims[1], ssim_13=ssims[2], width=self.out_size[0], height=self.out_size[1],
        )
        self.kept.append(row)
        return row


# --------------------------------------------------------------------------- scanning


@dataclass
class _Analysed:
    frame: DecodedFrame
    stats: LumaStats
    thumbnail: np.ndarray


class Scanner:
    """Decodes nothing itself: takes a film's frames in order, computes the pair SSIMs its
    candidates need (lazily, each at most once) and hands them to a :class:`Selection` in
    start order, holding only the last 2 * max(stride) + 1 frames."""

    def __init__(self, settings: ExtractSettings, size: tuple[int, int], selection: Selection, frame_index: TableWriter,
                 on_keep: Callable[[dict, list[DecodedFrame]], None]):
        self.settings, self.size, self.selection = settings, size, selection
        self.frame_index, self.on_keep = frame_index, on_keep
        self.span = 2 * max(settings.strides)
        self.window: dict[int, _Analysed] = {}
        self.pairs: dict[tuple[int, int], float] = {}
        self.pair_ssim_of = PairSSIM(size[1], size[0])
        self.judged: dict[int, list[tuple]] = defaultdict(list)  # start -> (interval, ssims, reason)
        self.frame_count = 0

    def pair_ssim(self, a: int, b: int) -> float:
        value = self.pairs.get((a, b))
        if value is None:
            value = self.pairs[a, b] = self.pair_ssim_of(self.window[a].stats, self.window[b].stats)
        return value

    def prepare(self, frame: DecodedFrame) -> _Analysed:
        """The per-frame half of the work (no shared state: may run on any thread)."""
        luma = frame.luma
        if (luma.shape[1], luma.shape[0]) != self.size:
            luma = cv2.resize(luma, self.size, interpolation=cv2.INTER_AREA)
        return _Analysed(frame, LumaStats.of(luma), thumbnail(luma))

    def add(self, analysed: _Analysed) -> None:
        """Take the next frame, in order: judge the candidates it completes."""
        frame = analysed.frame
        j = frame.index
        self.window[j] = analysed
        self.frame_index.append(dict(index=j, time=frame.time, thumbnail=analysed.thumbnail.tobytes()))
        self.frame_count = j + 1
        for stride in self.settings.strides:
            start = j - 2 * stride
            if start >= 0:
                frames = (start, start + stride, j)
                ssims, reason = judge(self.settings.band, lambda a, b: self.pair_ssim(frames[a], frames[b]))
                self.judged[start].append((stride - 1, ssims, reason))
        self._decide(j - self.span)

    def finish(self) -> None:
        for start in sorted(self.judged):
            self._decide(start)

    def _decide(self, start: int) -> None:
        """Every candidate starting at ``start`` is judged: select, and hand over the keeps."""
        for interval, ssims, reason in sorted(self.judged.pop(start, []), key=lambda c: c[0]):
            row = self.selection.decide(start, interval, ssims, reason, lambda i: self.window[i].thumbnail, lambda i: self.window[i].frame.time)
            if row:
                self.on_keep(row, [self.window[i].frame for i in row["frames"]])
        self.window.pop(start, None)
        for key in [k for k in self.pairs if k[0] <= start]:
            del self.pairs[key]


# --------------------------------------------------------------------------- one film


@dataclass
class FilmJob:
    film: Film
    settings: ExtractSettings
    dataset_root: Path


def process_film(job: FilmJob, progress: Progress) -> dict:
    """Scan (or re-select from cache) one film and record it; returns its SOURCES row."""
    dataset = Dataset(job.dataset_root)
    film, settings = job.film, job.settings
    paths = _cache_paths(dataset, film.source_id)
    started = time.perf_counter()
    try:
        previous = _reusable_record(paths, film, settings)
        paths["source"].unlink(missing_ok=True)  # the done-marker comes back last
        if previous is not None:
            row = _reselect_film(dataset, film, settings, previous, progress)
        else:
            row = _scan_film(dataset, film, settings, progress)
    except VideoError as error:
        row = _source_row(film, settings, status="failed", error=str(error))
    except Exception as error:  # a bug: keep the other films going, keep the traceback
        paths["error"].parent.mkdir(parents=True, exist_ok=True)
        paths["error"].write_text(traceback.format_exc())
        row = _source_row(film, settings, status="failed", error=f"internal error: {error!r} (traceback in {paths['error']})")
    row["scan_seconds"] = time.perf_counter() - started
    write_table(paths["source"], [row], schema.SOURCES)
    progress("done", film.source_id, 0)
    return row


def _analyse_while_decoding(scanner: Scanner, frames: Iterator[DecodedFrame], ahead: int = 8) -> None:
    """Decode and prepare frames on this thread while a second one judges candidates, so that
    both cores work (FFmpeg and OpenCV release the GIL); in order, at most ``ahead`` waiting."""
    with ThreadPoolExecutor(1, thread_name_prefix="analysis") as analysis:
        waiting: deque[Future] = deque()
        try:
            for frame in frames:
                waiting.append(analysis.submit(scanner.add, scanner.prepare(frame)))
                if len(waiting) > ahead:
                    waiting.popleft().result()
            while waiting:
                waiting.popleft().result()
        finally:
            for future in waiting:
                future.cancel()


def _scan_film(dataset: Dataset, film: Film, settings: ExtractSettings, progress: Progress) -> dict:
    paths = _cache_paths(dataset, film.source_id)
    stream = open_video(film.path, settings.backend)
    try:
        info = stream.info
        size = analysis_size(info.width, info.height, settings.analysis_size)
        if min(size) < MIN_SIDE:
            raise VideoError(f"frames are {info.width}x{info.height}, smaller than the {MIN_SIDE}x{MIN_SIDE} SSIM window")
        progress("start", film.source_id, info.expected_frames or 0)
        verdicts = TableWriter(paths["candidates"], schema.CANDIDATES)
        frame_index = TableWriter(paths["frame_index"], schema.FRAME_INDEX)
        selection = Selection(film, settings, settings.resize or (info.width, info.height), verdicts)
        writer = None if settings.dry_run else TripletWriter(dataset, settings)

        def on_keep(row: dict, frames: list[DecodedFrame]) -> None:
            if writer:
                writer.submit(row["triplet_id"], [f.rgb() for f in frames])

        scanner = Scanner(settings, size, selection, frame_index, on_keep)
        try:
            _analyse_while_decoding(scanner, _reporting(stream.frames(), film.source_id, progress))
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
    if not scanner.frame_count:
        verdicts.abort()
        frame_index.abort()
        raise VideoError("no frame could be decoded" + (f" ({'; '.join(stream.damage)})" if stream.damage else ""))
    verdicts.commit()
    frame_index.commit()
    return _record(paths, film, settings, selection, scanner.frame_count, "partial" if stream.damage else "ok",
                   "; ".join(stream.damage) or None, dict(
        codec=info.codec, width=info.width, height=info.height, fps=info.fps, expected_frames=info.expected_frames,
        analysis_width=size[0], analysis_height=size[1], scan_ssim_low=settings.band.low, scan_ssim_high=settings.band.high,
    ))


def _reselect_film(dataset: Dataset, film: Film, settings: ExtractSettings, previous: dict, progress: Progress) -> dict:
    paths = _cache_paths(dataset, film.source_id)
    frames = read_table(paths["frame_index"], schema.FRAME_INDEX)
    times = frames["time"].to_numpy()
    thumbnails = np.frombuffer(b"".join(frames["thumbnail"].to_pylist()), np.uint8).reshape(-1, THUMBNAIL_SIZE[1], THUMBNAIL_SIZE[0])
    verdicts = TableWriter(paths["candidates"], schema.CANDIDATES)
    selection = Selection(film, settings, settings.resize or (previous["width"], previous["height"]), verdicts)
    try:
        for batch in pq.ParquetFile(paths["candidates"]).iter_batches(batch_size=65536):
            for cached in batch.to_pylist():
                stored = dict(zip(PAIR_ORDER, (cached["ssim_12"], cached["ssim_23"], cached["ssim_13"])))
                ssims, reason = judge(settings.band, lambda a, b: stored[a, b])
                selection.decide(cached["start"], cached["interval"], ssims, reason, thumbnails.__getitem__, lambda i: float(times[i]))
        if not settings.dry_run:
            resized = previous["resize"] != format_size(settings.resize)
            missing = [t for t in selection.kept if resized or not dataset.triplet_dir(t["triplet_id"]).is_dir()]
            if missing:
                _write_frames(dataset, film, settings, missing, progress)
    except BaseException:
        verdicts.abort()
        raise
    verdicts.commit()
    carried = ("codec", "width", "height", "fps", "expected_frames", "analysis_width", "analysis_height", "scan_ssim_low", "scan_ssim_high")
    return _record(paths, film, settings, selection, len(times), previous["status"], previous["error"], {k: previous[k] for k in carried})


def _write_frames(dataset: Dataset, film: Film, settings: ExtractSettings, triplets: list[dict], progress: Progress) -> None:
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
    held: dict[int, np.ndarray] = {}
    decoded = 0
    try:
        for frame in _reporting(stream.frames(), film.source_id, progress):
            decoded = frame.index + 1
            if frame.index in wanted:
                held[frame.index] = frame.rgb()
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


def _reporting(frames: Iterator[DecodedFrame], source_id: str, progress: Progress, every: float = 0.2) -> Iterator[DecodedFrame]:
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


def _cache_paths(dataset: Dataset, source_id: str) -> dict[str, Path]:
    folder = dataset.source_cache(source_id)
    paths = {name: folder / f"{name}.parquet" for name in ("candidates", "frame_index", "triplets", "source")}
    paths["error"] = folder / "error.log"
    return paths


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


def _record(paths, film, settings, selection: Selection, frame_count: int, status, error, extra) -> dict:
    """Write the film's kept triplets; return its SOURCES row (written last by the caller)."""
    write_table(paths["triplets"], selection.kept, schema.TRIPLETS)
    paths["error"].unlink(missing_ok=True)
    return _source_row(
        film, settings, status=status, error=error, frame_count=frame_count, duration=frame_count / extra["fps"] if extra["fps"] else None,
        candidates=sum(selection.counts.values()), kept=selection.counts["kept"],
        **{f"rejected_{reason}": selection.counts[reason] for reason in schema.REJECTION_REASONS}, **extra,
    )


def _source_row(film: Film, settings: ExtractSettings, **values) -> dict:
    row = dict(
        source_id=film.source_id, series=film.series, path=str(film.path), content_hash=film.content_hash,
        backend=settings.backend, intervals=list(settings.intervals), ssim_low=settings.band.low, ssim_high=settings.band.high,
        min_gap=settings.redundancy.min_gap, min_change=settings.redundancy.min_change, resize=format_size(settings.resize),
        analysis_box=format_size(settings.analysis_size),
    )
    row.update(values)
    return {name: row.get(name) for name in schema.SOURCES.names}


def merge_tables(dataset: Dataset) -> tuple[pa.Table, pa.Table]:
    """Rebuild ``triplets.parquet`` and ``sources.parquet`` from every film's done-marker."""
    sources, triplets = [], []
    for source_id in dataset.cached_source_ids():
        paths = _cache_paths(dataset, source_id)
        if not paths["source"].exists():
            continue  # unfinished: a later run completes it
        row = read_table(paths["source"], schema.SOURCES)
        sources.append(row)
        if row["status"][0].as_py() != "failed" and paths["triplets"].exists():
            triplets.append(read_table(paths["triplets"], schema.TRIPLETS))
    source_table = pa.concat_tables(sources) if sources else schema.SOURCES.empty_table()
    triplet_table = pa.concat_tables(triplets) if triplets else schema.TRIPLETS.empty_table()
    write_table(dataset.triplets_path, triplet_table.sort_by("triplet_id"), schema.TRIPLETS)
    write_table(dataset.sources_path, source_table.sort_by("source_id"), schema.SOURCES)
    return triplet_table, source_table


# --------------------------------------------------------------------------- many films

_worker_queue = None


def _init_worker(queue) -> None:
    global _worker_queue
    _worker_queue = queue
    cv2.setNumThreads(1)


def _process_in_worker(job: FilmJob) -> dict:
    return process_film(job, lambda event, source_id, value: _worker_queue.put((event, source_id, value)))


def extract_films(films: list[tuple[Film, ExtractSettings]], dataset: Dataset, workers: int, progress: Progress) -> list[dict]:
    """Process films in parallel (one process per film at a time); returns their SOURCES rows."""
    jobs = [FilmJob(film, settings, dataset.root) for film, settings in films]
    workers = max(1, min(workers, len(jobs)))
    if workers == 1:
        return [process_film(job, progress) for job in jobs]
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    relay = threading.Thread(target=_relay, args=(queue, progress), daemon=True)
    relay.start()
    try:
        with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker, initargs=(queue,)) as pool:
            return list(pool.map(_process_in_worker, jobs))
    finally:
        queue.put(None)
        relay.join()


def _relay(queue, progress: Progress) -> None:
    while (message := queue.get()) is not None:
        progress(*message)
