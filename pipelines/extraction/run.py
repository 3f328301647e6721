"""``atdkit extract`` end to end: resolve films, process them in parallel, merge the tables.

The films are processed as units of work on an executor (:mod:`atdkit.pipelines.executors`: a local
process pool or a Ray cluster); this process, the driver, shows one progress bar, merges the
per-film tables into ``triplets.parquet`` and ``sources.parquet`` and tallies what each node did.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
from rich.console import Console

from atdkit.pipelines.executors import ExecutorChoice, NodeTally
from atdkit.pipelines.extraction.films import Film, InputError, content_hash, expand_paths, identify, read_series_map
from atdkit.pipelines.extraction.scan import ExtractSettings, merge_tables
from atdkit.pipelines.extraction.selection import Band, RedundancyPolicy
from atdkit.pipelines.extraction.units import extract_films
from atdkit.progress import RunProgress
from atdkit.sizes import parse_size
from atdkit.store import Dataset, DatasetError

__all__ = ["InputError", "RunReport", "extract", "refilter"]


@dataclass
class RunReport:
    dataset: Dataset
    sources: list[dict]  # SOURCES rows of the films of this run
    triplets: pa.Table  # the whole dataset's TRIPLETS after the run
    all_sources: pa.Table
    input_errors: list[str] = field(default_factory=list)
    nodes: NodeTally = field(default_factory=NodeTally)  # what each node did in this run

    @property
    def failed(self) -> bool:
        return bool(self.input_errors) or any(row["status"] == "failed" for row in self.sources)


def settings_from(options: dict, recorded: dict | None = None) -> ExtractSettings:
    """Settings from command-line ``options``; those not given come from a film's ``recorded``
    SOURCES row (refiltering) or else from the defaults."""
    default = ExtractSettings()
    recorded = recorded or {}

    def pick(name, from_record, fallback):
        value = options.get(name)
        if value is not None:
            return value
        return from_record(recorded) if recorded else fallback

    return ExtractSettings(
        intervals=pick("intervals", lambda r: tuple(r["intervals"]), default.intervals),
        band=Band(
            pick("ssim_low", lambda r: r["ssim_low"], default.band.low),
            pick("ssim_high", lambda r: r["ssim_high"], default.band.high),
        ),
        redundancy=RedundancyPolicy(
            pick("min_gap", lambda r: r["min_gap"], default.redundancy.min_gap),
            pick("min_change", lambda r: r["min_change"], default.redundancy.min_change),
        ),
        analysis_size=pick("analysis_size", lambda r: parse_size(r["analysis_box"]), default.analysis_size),
        resize=pick("resize", lambda r: parse_size(r["resize"]) if r["resize"] else None, default.resize),
        backend=pick("backend", lambda r: r["backend"], default.backend),
        dry_run=bool(options.get("dry_run")),
    )


def extract(
    paths: list[str],
    dataset: Dataset,
    options: dict,
    executor: ExecutorChoice,
    console: Console,
    series: str | None = None,
    series_map: Path | None = None,
) -> RunReport:
    """``options``: the settings (see :func:`settings_from`) and ``split_frames``, the length
    above which a film is scanned in frame ranges of that many frames."""
    executor.check()
    settings = settings_from(options)
    files, input_errors = expand_paths(paths)
    mapping = read_series_map(series_map) if series_map else None
    with dataset.writing():
        known = {row["source_id"]: (row["path"], row["content_hash"]) for row in _recorded_sources(dataset)}
        films, notes = identify(files, known, series, mapping)
        for note in notes:
            console.print(f"note: {note}", highlight=False)
        return _run(
            dataset, [(film, settings) for film in films], executor, console, input_errors, options.get("split_frames")
        )


def refilter(dataset: Dataset, options: dict, executor: ExecutorChoice, console: Console) -> RunReport:
    """Re-select every film of ``dataset`` with new thresholds, from its cached SSIMs."""
    executor.check()
    if not dataset.has("sources"):
        raise InputError(f"{dataset.root}: not an atdkit dataset (no sources.parquet)")
    with dataset.writing():
        jobs = []
        for row in _recorded_sources(dataset):
            if row["status"] == "failed":
                continue
            path = Path(row["path"])
            digest = content_hash(path) if path.is_file() else row["content_hash"]
            jobs.append((Film(path, row["source_id"], row["series"], digest), settings_from(options, row)))
        return _run(dataset, jobs, executor, console, [], options.get("split_frames"))


def _recorded_sources(dataset: Dataset) -> list[dict]:
    try:
        return dataset.rows("sources")
    except DatasetError as error:
        raise InputError(str(error)) from None


def _run(
    dataset: Dataset,
    jobs: list[tuple[Film, ExtractSettings]],
    choice: ExecutorChoice,
    console: Console,
    input_errors: list[str],
    split_frames: int | None,
) -> RunReport:
    progress, nodes, rows = RunProgress(console, len(jobs)), NodeTally(), []
    with choice.open(progress) as executor, progress:
        for row in extract_films(jobs, dataset, executor, split_frames, nodes):
            rows.append(row)
            progress.film_done()
    order = {film.source_id: position for position, (film, _) in enumerate(jobs)}
    rows.sort(key=lambda row: order[row["source_id"]])
    dataset.sweep_temporaries()  # of workers killed mid-unit, whose units ran again
    triplets, all_sources = merge_tables(dataset)
    return RunReport(dataset, rows, triplets, all_sources, input_errors, nodes)
