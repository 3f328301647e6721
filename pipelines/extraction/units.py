"""Extraction as units of work on an executor (:mod:`atdkit.pipelines.executors`).

A film is one unit (:func:`.scan.process_film`). A film longer than ``split_frames``
frames is split (:func:`.scan.plan_ranges`): each frame range is a unit that scans
its candidates; once all of a film's ranges are in, the driver joins them and selects over the
whole film at once (:func:`.scan.select_ranges`, linear in its candidates); each
range holding kept triplets is then a unit that writes their frames, and last the driver writes
the film's done-marker. Films and their phases interleave, so that workers stay busy meanwhile.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field

from atdkit.pipelines.executors import Executor, NodeTally, Outcome
from atdkit.pipelines.extraction.films import Film
from atdkit.pipelines.extraction.scan import (
    WHOLE_FILM,
    ExtractSettings,
    FilmJob,
    FrameRange,
    failure_row,
    finish_film,
    plan_ranges,
    process_film,
    scan_range,
    select_ranges,
    write_frames,
)
from atdkit.store import Dataset


@dataclass
class _SplitFilm:
    job: FilmJob
    ranges: list[FrameRange]
    scanned: dict[FrameRange, dict] = field(default_factory=dict)  # range -> its SOURCES row
    row: dict | None = None  # the film's, once its ranges are joined and selected
    writing: int = 0  # frame-writing units not finished
    seconds: float = 0.0  # its units' time so far
    failed: bool = False


def extract_films(
    films: list[tuple[Film, ExtractSettings]],
    dataset: Dataset,
    executor: Executor,
    split_frames: int | None = None,
    nodes: NodeTally | None = None,
) -> Iterator[dict]:
    """Extract ``films`` on ``executor``; yields each film's SOURCES row as soon as the film is
    done. ``nodes`` receives every unit's outcome, with the frames it scanned."""
    nodes = nodes if nodes is not None else NodeTally()
    units: dict[str, tuple[str, FilmJob, FrameRange]] = {}
    split: dict[str, _SplitFilm] = {}

    def submit(name: str, kind: str, job: FilmJob, frames: FrameRange, fn, *args) -> None:
        units[name] = (kind, job, frames)
        executor.submit(name, fn, *args)

    for film, settings in films:
        job = FilmJob(film, settings, dataset.root)
        ranges = plan_ranges(job, split_frames)
        if ranges == [WHOLE_FILM]:
            submit(film.source_id, "film", job, WHOLE_FILM, process_film, job)
            continue
        split[film.source_id] = _SplitFilm(job, ranges)
        for frames in ranges:
            submit(f"{film.source_id} scan {frames.name}", "scan", job, frames, scan_range, job, frames)

    for outcome in executor.results():
        kind, job, frames = units.pop(outcome.name)
        nodes.add(outcome, _frames_scanned(kind, frames, outcome))
        if kind == "film":
            if outcome.failed:  # its worker kept dying: process_film itself records every other failure
                row = failure_row(job, outcome.error)
                finish_film(job, row)
                yield row
            else:
                yield outcome.value
            continue
        film = split[job.film.source_id]
        film.seconds += outcome.seconds
        if film.failed:
            continue  # a straggler of a film already recorded as failed
        if outcome.failed:
            yield _fail(film, f"{outcome.name}: {outcome.error}")
            continue
        if kind == "scan":
            film.scanned[frames] = outcome.value
            if len(film.scanned) < len(film.ranges):
                continue
            try:
                film.row, kept = select_ranges(job, film.ranges, [film.scanned[r] for r in film.ranges])
            except Exception as error:  # a bug: keep the other films going
                yield _fail(film, f"internal error while joining its frame ranges: {error!r}")
                continue
            for range_frames, triplets in [] if job.settings.dry_run else _by_range(kept, film.ranges):
                submit(
                    f"{job.film.source_id} frames {range_frames.name}",
                    "frames",
                    job,
                    range_frames,
                    write_frames,
                    job,
                    triplets,
                )
                film.writing += 1
        else:
            film.writing -= 1
        if film.row is not None and not film.writing:
            film.row["scan_seconds"] = film.seconds
            finish_film(job, film.row)
            yield film.row


def _fail(film: _SplitFilm, error: str) -> dict:
    film.failed = True
    row = failure_row(film.job, error)
    row["scan_seconds"] = film.seconds
    finish_film(film.job, row)
    return row


def _by_range(kept: list[dict], ranges: list[FrameRange]) -> list[tuple[FrameRange, list[dict]]]:
    """Kept triplets grouped by the range their first frame is in, ranges without any left out."""
    groups: dict[FrameRange, list[dict]] = defaultdict(list)
    for triplet in kept:
        groups[next(frames for frames in ranges if triplet["frames"][0] in frames)].append(triplet)
    return [(frames, groups[frames]) for frames in ranges if frames in groups]


def _frames_scanned(kind: str, frames: FrameRange, outcome: Outcome) -> int:
    if outcome.failed or kind == "frames":
        return 0
    decoded = outcome.value["frame_count"] or 0
    end = decoded if frames.stop is None else min(decoded, frames.stop)
    return max(0, end - frames.start)
