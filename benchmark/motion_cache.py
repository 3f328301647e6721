"""Motion measured for the official ATD-12K layout, kept between runs.

The official layout has no ``motion.parquet``: ``atdkit bench`` measures each triplet's motion and
occlusion with ``atdkit stats``' DIS statistics while reading it (about 70 ms of CPU a triplet at
960x540). The values are kept in ``$ATDKIT_CACHE/motion/<data folder hash>.parquet`` (default
``~/.cache/atdkit``), each with the sizes and modification times of the frames it was measured on,
so that a later run on the same data measures only what is new or changed.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pyarrow.parquet as pq

from atdkit import schema
from atdkit.benchmark.data import Triplet
from atdkit.store import write_table

Measured = dict[str, tuple[float, float]]  # triplet id -> (motion, occlusion)


def cache_dir() -> Path:
    return Path(os.environ.get("ATDKIT_CACHE") or Path.home() / ".cache" / "atdkit")


def _frames_key(triplet: Triplet) -> str | None:
    """What the measurement depends on: frame1 and frame3 (size and modification time of each); None when unreadable."""
    try:
        stats = [path.stat() for path in (triplet.frames[0], triplet.frames[2])]
    except OSError:
        return None
    return ";".join(f"{s.st_size}:{s.st_mtime_ns}" for s in stats)


class MotionCache:
    def __init__(self, data_root: Path):
        digest = hashlib.blake2b(str(Path(data_root).resolve()).encode(), digest_size=12).hexdigest()
        self.path = cache_dir() / "motion" / f"{digest}.parquet"

    def read(self, triplets: list[Triplet]) -> Measured:
        """The cached measurements of ``triplets`` whose frames have not changed since."""
        if not self.path.is_file():
            return {}
        try:
            rows = pq.read_table(self.path, schema=schema.BENCH_MOTION).to_pylist()
        except Exception:  # an unreadable cache is measured again, not fatal
            return {}
        cached = {row["triplet_id"]: row for row in rows}
        found = {}
        for triplet in triplets:
            row = cached.get(triplet.triplet_id)
            if row and not triplet.problem and _frames_key(triplet) == row["frames"]:
                found[triplet.triplet_id] = (row["motion"], row["occlusion"])
        return found

    def write(self, triplets: list[Triplet], measured: Measured) -> None:
        """Keep ``measured`` (for these triplets, whose frames are read for their key) for later runs."""
        rows = []
        for triplet in triplets:
            key = _frames_key(triplet) if triplet.triplet_id in measured else None
            if key:
                motion, occlusion = measured[triplet.triplet_id]
                rows.append({"triplet_id": triplet.triplet_id, "frames": key, "motion": motion, "occlusion": occlusion})
        if rows:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_table(self.path, rows, schema.BENCH_MOTION)
