"""From the user's paths to the list of films: globs and folders expanded, stable ids, series."""

from __future__ import annotations

import csv
import glob
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from atdkit.video import find_videos


class InputError(Exception):
    """A path the user named that gives no film; the message is the one-line reason."""


@dataclass(frozen=True)
class Film:
    path: Path
    source_id: str
    series: str | None
    content_hash: str


def content_hash(path: Path) -> str:
    """blake2b-128 of the file's bytes: films are matched by content, not by name."""
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def safe_id(text: str) -> str:
    """``text`` reduced to characters that are safe in a folder name on every OS."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip(".-")
    return cleaned or "film"


def expand_paths(paths: list[str]) -> tuple[list[Path], list[str]]:
    """Files, folders (searched for video files) and globs -> files, plus one error line per bad path."""
    files: dict[Path, None] = {}
    errors = []
    for text in paths:
        matches = [Path(m) for m in sorted(glob.glob(text, recursive=True))] if glob.has_magic(text) else [Path(text)]
        if not matches:
            errors.append(f"{text}: no file matches this pattern")
        for path in matches:
            if path.is_dir():
                found = find_videos(path)
                if not found:
                    errors.append(f"{path}: folder contains no video files")
                files.update(dict.fromkeys(p.resolve() for p in found))
            elif path.exists():
                files[path.resolve()] = None
            else:
                errors.append(f"{path}: no such file or folder")
    return list(files), errors


def read_series_map(csv_path: Path) -> dict[str, str]:
    """A CSV with a ``series`` column and a ``source_id`` or ``path`` column -> {key: series}."""
    try:
        with open(csv_path, newline="") as stream:
            rows = list(csv.DictReader(stream))
    except OSError as error:
        raise InputError(f"{csv_path}: cannot read series map ({error.strerror})") from None
    key = next((k for k in ("source_id", "path") if rows and k in rows[0]), None)
    if key is None or "series" not in rows[0]:
        raise InputError(f"{csv_path}: series map needs a 'series' column and a 'source_id' or 'path' column")
    return {(str(Path(r[key]).resolve()) if key == "path" else r[key]): r["series"] for r in rows}


def identify(
    files: list[Path],
    known: dict[str, tuple[str, str]],
    series: str | None = None,
    series_map: dict[str, str] | None = None,
) -> tuple[list[Film], list[str]]:
    """Give each file a source id: its stem, made unique with a content-hash suffix on collision.

    ``known`` maps ids already in the dataset to (path, content hash): the same path, or
    the same content, keeps its id (a re-encoded or moved film); a different film with the
    same stem gets a suffix. Byte-identical copies within one run are reported and skipped.
    """
    series_map = series_map or {}
    films, notes = [], []
    claimed: dict[str, str] = {}  # ids given in this run -> content hash
    seen_hashes: dict[str, Path] = {}
    for path in files:
        digest = content_hash(path)
        if digest in seen_hashes:
            notes.append(f"{path}: same content as {seen_hashes[digest]}, skipped")
            continue
        seen_hashes[digest] = path
        source_id = safe_id(path.stem)
        known_path, known_hash = known.get(source_id, (str(path), digest))
        if source_id in claimed or (known_path != str(path) and known_hash != digest):
            source_id = f"{source_id}-{digest[:8]}"
        claimed[source_id] = digest
        film_series = series_map.get(str(path), series_map.get(source_id, series))
        films.append(Film(path, source_id, film_series, digest))
    return films, notes
