"""``atdkit rebuild RELEASE --videos FILMS... --out DATASET``: a released dataset made again from your own copies
of its films, every frame proved.

Each film of the release is looked for among the files given, whatever their names: by content hash
first; else by its frames (a file whose decoded frame at the probe's index saves to the release's PNG
bytes: the same video stream in another container, e.g. another download). Its listed frames are then
decoded and written exactly as ``atdkit extract`` writes them, and each PNG's sha256 is checked against
the release. A triplet that cannot be verified is left out, never replaced, and ``rebuilt.parquet`` says
why (``schema.REBUILD_STATUSES``): no file is its film (``missing film``); a file looks like the film, its
probe thumbnail close, but its frames differ (``different encode``); the film ends before the triplet
(``film too short``); a PNG's bytes differ (``differs``, with the decoder and encoder versions when they
are not the release's). Each rebuilt film's rows go to ``cache/<source_id>/rebuilt.parquet`` last: a
killed rebuild resumes with the films not done yet, and a later run given a missing film adds it.
"""

from __future__ import annotations

import hashlib
import shutil
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from atdkit import schema
from atdkit.pipelines.extraction.films import Film, content_hash, expand_paths
from atdkit.pipelines.extraction.run import settings_from
from atdkit.pipelines.extraction.scan import FilmJob, saved_png, write_frames
from atdkit.pipelines.release.manifest import FRAME_NAMES, SHARED_TABLES, Release, file_sha256, probe_thumbnail
from atdkit.pipelines.release.manifest import tool_versions as current_versions
from atdkit.store import Dataset, read_table, remove, write_table
from atdkit.video import VideoError, open_video

CLOSE_THUMBNAIL = 8.0  # mean absolute luma difference (0-255) under which a probe frame is "the same picture"


@dataclass
class Match:
    path: Path
    by: str  # "content hash" or "frames"
    content_hash: str


@dataclass
class RebuildReport:
    rows: list[dict]  # REBUILT rows, one per triplet of the release
    matches: dict[str, Match]  # source id -> the file found for it
    input_errors: list[str]

    def count(self, status: str) -> int:
        return sum(row["status"] == status for row in self.rows)

    @property
    def complete(self) -> bool:
        return not self.input_errors and all(row["status"] == "verified" for row in self.rows)


def rebuild(release_dir: Path, videos: list[str], out: Path, progress: Callable | None = None) -> RebuildReport:
    """Rebuild the release in ``release_dir`` into the dataset folder ``out`` from the files ``videos`` names."""
    release = Release(release_dir)
    recorded = release.check()["versions"]
    sources = {row["source_id"]: row for row in release.sources()}
    triplets = release.tables.read("triplets", required=True).to_pylist()
    hashes = release.png_hashes()
    by_source: dict[str, list[dict]] = defaultdict(list)
    for triplet in triplets:
        by_source[triplet["source_id"]].append(triplet)
    files, input_errors = expand_paths(videos)
    matches, unmatched = find_films(sources, by_source, release.probes(), hashes, files)
    dataset = Dataset(out)
    rows: list[dict] = []
    with dataset.writing():
        for source_id, listed in sorted(by_source.items()):
            marker = dataset.source_cache(source_id) / "rebuilt.parquet"
            if marker.is_file():  # done by an earlier run
                rows += read_table(marker, schema.REBUILT).to_pylist()
                continue
            if source_id in matches:
                film_rows = _rebuild_film(dataset, sources[source_id], matches[source_id], listed, hashes, recorded)
                write_table(marker, film_rows, schema.REBUILT)
            else:  # no marker: a later run given the film rebuilds it
                status, detail = unmatched.get(source_id, ("missing film", None))
                detail = detail or f"none of the given files is {sources[source_id]['path']}"
                film_rows = [_row(t, status, detail) for t in listed]
            rows += film_rows
            if progress:
                progress(source_id)
        _write_tables(release, dataset, sources, matches, rows)
    return RebuildReport(rows, matches, input_errors)


def find_films(
    sources: dict[str, dict],
    by_source: dict[str, list[dict]],
    probes: dict[str, dict],
    hashes: dict[str, list[str]],
    files: list[Path],
) -> tuple[dict[str, Match], dict[str, tuple[str, str]]]:
    """Which given file is each film: matches by source id, and for the others (status, detail)."""
    file_hashes = {content_hash(path): path for path in files}
    matches = {
        source_id: Match(file_hashes[row["content_hash"]], "content hash", row["content_hash"])
        for source_id, row in sources.items()
        if source_id in by_source and row["content_hash"] in file_hashes
    }
    matched = {m.content_hash for m in matches.values()}
    left = {path: digest for digest, path in file_hashes.items() if digest not in matched}  # path -> its hash
    unmatched = {}
    for source_id in sorted(set(by_source) - set(matches)):
        probe = probes.get(source_id)
        if probe is None:
            continue
        first = next(t for t in by_source[source_id] if t["frames"][0] == probe["frame"])
        verdict = None
        for path in left:
            seen = _probe_file(path, sources[source_id], probe, hashes[first["triplet_id"]][0])
            if seen == "same frames":
                matches[source_id] = Match(path, "frames", left.pop(path))
                break
            if seen == "close":
                verdict = ("different encode", f"{path} looks like this film but its frames differ from the release's")
        if source_id not in matches and verdict:
            unmatched[source_id] = verdict
    return matches, unmatched


def _probe_file(path: Path, source: dict, probe: dict, png_sha256: str) -> str | None:
    """ "same frames" when ``path``'s probe frame saves to the release's PNG, "close" when only its thumbnail is
    close, None otherwise (another film, or not a readable video)."""
    try:
        stream = open_video(path, source["backend"])
    except VideoError:
        return None
    try:
        if (stream.info.width, stream.info.height) != (source["width"], source["height"]):
            return None
        for frame in stream.frames():
            if frame.index == probe["frame"]:
                rgb = frame.rgb()
                resize = settings_from({}, source).resize
                if hashlib.sha256(saved_png(rgb, resize)).hexdigest() == png_sha256:
                    return "same frames"
                thumbnail = np.frombuffer(probe_thumbnail(rgb), np.uint8).astype(np.float32)
                recorded = np.frombuffer(probe["thumbnail"], np.uint8).astype(np.float32)
                return "close" if np.abs(thumbnail - recorded).mean() <= CLOSE_THUMBNAIL else None
        return None
    finally:
        stream.close()


def _rebuild_film(
    dataset: Dataset,
    source: dict,
    match: Match,
    listed: list[dict],
    hashes: dict[str, list[str]],
    recorded: dict[str, str],
) -> list[dict]:
    """Decode and write ``listed`` triplets of one film from ``match``, verify each PNG; the film's REBUILT rows."""
    film = Film(match.path, source["source_id"], source["series"], match.content_hash)
    stopped = None
    try:
        write_frames(FilmJob(film, settings_from({}, source), dataset.root), listed, lambda *_: None)
    except VideoError as error:
        stopped = f"{match.path}: {error}"
    differ = {name: value for name, value in current_versions().items() if recorded.get(name) != value}
    versions = (
        "; versions differ from the release's: " + ", ".join(f"{k} {recorded.get(k)} -> {v}" for k, v in differ.items())
        if differ
        else "; same decoder and encoder versions as the release"
    )
    written = [dataset.triplet_dir(triplet["triplet_id"]).is_dir() for triplet in listed]
    rows = []
    for triplet, done in zip(listed, written, strict=True):
        folder = dataset.triplet_dir(triplet["triplet_id"])
        if not done:  # decoding stopped: before the triplet's frames (too short), or at once (unreadable)
            rows.append(_row(triplet, "film too short" if any(written) else "missing film", stopped))
            continue
        wrong = [
            name
            for name, expected in zip(FRAME_NAMES, hashes[triplet["triplet_id"]], strict=True)
            if file_sha256(folder / name) != expected
        ]
        if wrong:
            remove(folder)
            rows.append(_row(triplet, "differs", f"{', '.join(wrong)}: sha256 differs from the release's{versions}"))
        else:
            rows.append(_row(triplet, "verified", None))
    return rows


def _row(triplet: dict, status: str, detail: str | None) -> dict:
    return {"triplet_id": triplet["triplet_id"], "source_id": triplet["source_id"], "status": status, "detail": detail}


def _write_tables(
    release: Release, dataset: Dataset, sources: dict[str, dict], matches: dict[str, Match], rows: list[dict]
) -> None:
    """The dataset's tables: the release's, limited to the verified triplets (copied byte for byte when all are)."""
    verified = {row["triplet_id"] for row in rows if row["status"] == "verified"}
    everything = len(verified) == len(rows)
    for name in SHARED_TABLES:
        if not release.tables.has(name):
            continue
        if everything:
            shutil.copyfile(release.tables.table_path(name), dataset.table_path(name))
        else:
            table = release.tables.read(name)
            keep = pa.array([tid in verified for tid in table.column("triplet_id").to_pylist()], pa.bool_())
            dataset.write(name, table.filter(keep))
    source_rows = []
    for source_id, row in sources.items():
        match = matches.get(source_id)
        if match:
            source_rows.append({**row, "path": str(match.path.resolve()), "content_hash": match.content_hash})
        elif row["kept"]:
            source_rows.append({**row, "status": "failed", "error": "not rebuilt: no given file is this film"})
        else:
            source_rows.append(row)
    dataset.write("sources", source_rows)
    dataset.write("rebuilt", rows)
