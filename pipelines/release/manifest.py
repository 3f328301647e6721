"""``atdkit manifest DATASET --out RELEASE``: everything of a dataset but its frames.

    RELEASE/
      manifest.json      atdkit, decoder and PNG encoder versions; what each file is
      sources.parquet    the dataset's films (content hash, decoded frame count, decoder and analysis
                         settings), each path cut to its file name
      triplets.parquet   as in the dataset; labels.parquet, splits.parquet, motion.parquet too when present
      frames.parquet     per triplet, the sha256 of each saved PNG (schema.RELEASE_FRAMES)
      probes.parquet     per film, a 32x18 luma thumbnail of one saved frame (schema.RELEASE_PROBES): enough
                         to tell another encode of the film from another film, far too small to show it

Rebuilding needs the same decoded pixels and the same PNG bytes: the decoder (FFmpeg through PyAV or
OpenCV) and the PNG encoder (OpenCV, zlib) versions are recorded so that a rebuild that cannot verify a
frame can say why.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import cv2
import numpy as np
import pyarrow as pa

import atdkit
from atdkit import schema
from atdkit.images import ImageError, read_rgb
from atdkit.pipelines.extraction.selection import thumbnail
from atdkit.store import Dataset, DatasetError, read_table, write_file, write_table

SHARED_TABLES = ("triplets", "labels", "splits", "motion")  # copied as they are
FRAME_NAMES = ("frame1.png", "frame2.png", "frame3.png")


class Release:
    """A release folder: the dataset's shareable tables (read with :class:`Dataset`) and the proofs."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.tables = Dataset(self.root)

    manifest_json = property(lambda self: self.root / "manifest.json")
    frames_path = property(lambda self: self.root / "frames.parquet")
    probes_path = property(lambda self: self.root / "probes.parquet")
    sources_path = property(lambda self: self.root / "sources.parquet")

    def check(self) -> dict:
        """The manifest's facts; DatasetError (one line) when the folder is not a complete release."""
        if not self.manifest_json.is_file():
            raise DatasetError(f"{self.root}: not an atdkit release (no manifest.json; run atdkit manifest first)")
        for path in (self.frames_path, self.probes_path, self.sources_path, self.tables.table_path("triplets")):
            if not path.is_file():
                raise DatasetError(f"{path}: missing from the release")
        try:
            return json.loads(self.manifest_json.read_text())
        except (OSError, ValueError) as error:
            raise DatasetError(f"{self.manifest_json}: not readable ({error})") from None

    def png_hashes(self) -> dict[str, list[str]]:
        rows = _read(self.frames_path, schema.RELEASE_FRAMES)
        return {row["triplet_id"]: row["png_sha256"] for row in rows}

    def probes(self) -> dict[str, dict]:
        return {row["source_id"]: row for row in _read(self.probes_path, schema.RELEASE_PROBES)}

    def sources(self) -> list[dict]:
        return _read(self.sources_path, schema.SOURCES)


def _read(path: Path, table_schema: pa.Schema) -> list[dict]:
    try:
        return read_table(path, table_schema).to_pylist()
    except (pa.ArrowException, OSError, ValueError) as error:
        raise DatasetError(f"{path}: not a readable release table ({str(error).splitlines()[0]})") from None


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def probe_thumbnail(rgb: np.ndarray) -> bytes:
    """What :data:`schema.RELEASE_PROBES` keeps of a frame."""
    return thumbnail(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)).tobytes()


def tool_versions() -> dict[str, str]:
    """The versions that decide the decoded pixels and the PNG bytes."""
    import av

    return {
        "atdkit": atdkit.__version__,
        "pyav": av.__version__,
        "ffmpeg": ".".join(map(str, av.library_versions["libavcodec"])) + " (libavcodec)",
        "opencv": cv2.__version__,
    }


@dataclass
class ManifestReport:
    sources: int
    triplets: int
    tables: list[str]


def write_manifest(dataset: Dataset, out: Path) -> ManifestReport:
    """Write ``dataset``'s release to ``out``; DatasetError (one line naming the file) when a frame is missing."""
    triplets = dataset.read("triplets", required=True).to_pylist()
    sources = dataset.read("sources", required=True).to_pylist()
    hashes, probes = [], {}
    for triplet in triplets:
        folder = dataset.triplet_dir(triplet["triplet_id"])
        paths = [folder / name for name in FRAME_NAMES]
        for path in paths:
            if not path.is_file():
                raise DatasetError(f"{path}: no such file (a release proves every saved frame)")
        hashes.append({"triplet_id": triplet["triplet_id"], "png_sha256": [file_sha256(path) for path in paths]})
        first = probes.get(triplet["source_id"])
        if first is None or triplet["frames"][0] < first[0]:
            probes[triplet["source_id"]] = (triplet["frames"][0], paths[0])
    probe_rows = []
    for source_id, (frame, path) in sorted(probes.items()):
        try:
            probe_rows.append({"source_id": source_id, "frame": frame, "thumbnail": probe_thumbnail(read_rgb(path))})
        except ImageError as error:
            raise DatasetError(str(error)) from None
    out.mkdir(parents=True, exist_ok=True)
    (out / "manifest.json").unlink(missing_ok=True)  # written again last, once the rest is whole
    shared = [name for name in SHARED_TABLES if dataset.has(name)]
    for name in shared:
        shutil.copyfile(dataset.table_path(name), out / f"{name}.parquet")
    write_table(out / "sources.parquet", [{**row, "path": Path(row["path"]).name} for row in sources], schema.SOURCES)
    write_table(out / "frames.parquet", hashes, schema.RELEASE_FRAMES)
    write_table(out / "probes.parquet", probe_rows, schema.RELEASE_PROBES)
    facts = {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "versions": tool_versions(),
        "tables": [*shared, "sources", "frames", "probes"],
        "rebuild": "atdkit rebuild RELEASE --videos YOUR_COPIES_OF_THE_FILMS --out DATASET",
    }
    write_file(out / "manifest.json", json.dumps(facts, indent=2) + "\n")  # last: its presence marks a whole release
    return ManifestReport(len(sources), len(triplets), facts["tables"])
