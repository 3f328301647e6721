"""The results folder of ``atdkit bench``: where each file is, the rows as they are committed, run.json.

```
RESULTS_DIR/
  per_triplet.parquet     one row per (method, triplet, profile): atdkit.schema.BENCH_RESULTS
  summary.md, summary.csv, breakdowns.csv, protocols.md      the numbers (atdkit.benchmark.summary)
  psnr_by_level.png, psnr_distribution.png, by_motion.png, worst_<method>.png   the figures (.figures)
  run.json                versions, device, profiles and their sources, metrics, padding, precision, weights, data
  frames/<method>/<id>.png  predictions (8-bit), with --save-frames
```

Rows are committed in parts (``.partial/``) as a run goes, so a killed run resumes with
``--resume``; the final files are written under temporary names and renamed into place.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from atdkit import schema
from atdkit.store import remove, write_file, write_table

PER_TRIPLET, RUN_JSON = "per_triplet.parquet", "run.json"
PARTIAL = ".partial"
WORST = 10
KEY = ["method", "triplet_id", "profile"]


class ResultsError(Exception):
    """RESULTS_DIR cannot take this run (results of another run, without --resume); one line."""


class ResultsDir:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.partial = self.root / PARTIAL

    per_triplet = property(lambda self: self.root / PER_TRIPLET)
    run_json = property(lambda self: self.root / RUN_JSON)

    def _parts(self) -> list[Path]:
        return sorted(self.partial.glob("part-*.parquet")) if self.partial.is_dir() else []

    def check_start(self, resume: bool, context: dict) -> None:
        """Refuse to mix runs: earlier results need --resume, and --resume needs the same profiles (and sizes),
        metrics and data."""
        started = self.per_triplet.exists() or bool(self._parts())
        if started and not resume:
            raise ResultsError(
                f"{self.root} already holds benchmark results: pass --resume to add to them, or choose another --out"
            )
        if not (resume and self.run_json.exists()):
            return
        earlier = json.loads(self.run_json.read_text())
        scored = [(facts["name"], facts["size"]) for facts in earlier.get("profiles", [])]
        asked = [(facts["name"], facts["size"]) for facts in context["profiles"]]
        if scored != asked:
            listed = lambda pairs: ", ".join(f"{name} at {size}" for name, size in pairs)  # noqa: E731
            raise ResultsError(
                f"{self.root} was scored under {listed(scored)}, not {listed(asked)} "
                "(--profile, --size): choose another --out"
            )
        if list(earlier.get("metrics", {})) != list(context["metrics"]):
            raise ResultsError(
                f"{self.root} was scored with metrics {', '.join(earlier.get('metrics', {}))}, not "
                f"{', '.join(context['metrics'])} (--metrics): choose another --out"
            )
        if earlier["data"]["fingerprint"] != context["data"]["fingerprint"]:
            raise ResultsError(f"{self.root} was scored on other data (or DATA changed since): choose another --out")

    def rows(self) -> pd.DataFrame:
        """Every row scored so far (final table and committed parts), the latest per (method, triplet, profile)."""
        tables = [
            pq.read_table(path, schema=schema.BENCH_RESULTS)
            for path in ([self.per_triplet] if self.per_triplet.exists() else []) + self._parts()
        ]
        if not tables:
            return schema.BENCH_RESULTS.empty_table().to_pandas()
        frame = pa.concat_tables(tables).to_pandas()
        return frame.drop_duplicates(KEY, keep="last").reset_index(drop=True)

    def motion(self) -> dict[str, tuple[float, float]]:
        """Triplet id -> (motion, occlusion) measured by earlier rows (a resumed run measures nothing twice)."""
        rows = self.rows().dropna(subset=["motion"])
        return {t: (m, o) for t, m, o in zip(rows["triplet_id"], rows["motion"], rows["occlusion"])}

    def commit_part(self, rows: list[dict]) -> None:
        if not rows:
            return
        existing = self._parts()
        number = int(existing[-1].stem.split("-")[1]) + 1 if existing else 0
        write_table(self.partial / f"part-{number:06d}.parquet", rows, schema.BENCH_RESULTS)

    def finish(self, method_order: list[str], profile_order: list[str]) -> pd.DataFrame:
        """Merge the parts into per_triplet.parquet (methods in ``method_order``, then profiles, then triplets)."""
        frame = self.rows()
        orders = {
            column: {name: i for i, name in enumerate(dict.fromkeys([*order, *frame[column]]))}
            for column, order in (("method", method_order), ("profile", profile_order))
        }
        frame = frame.sort_values(
            ["method", "profile", "triplet_id"], key=lambda c: c.map(orders[c.name]) if c.name in orders else c
        )
        frame = frame.reset_index(drop=True)
        table = pa.Table.from_pandas(frame, schema=schema.BENCH_RESULTS, preserve_index=False)
        write_table(self.per_triplet, table, schema.BENCH_RESULTS)
        if self.partial.exists():
            remove(self.partial)
        return frame


def worst(frame: pd.DataFrame, method: str, profile: str, count: int = WORST) -> list[str]:
    """Triplet ids of ``method``'s ``count`` lowest finite PSNRs under ``profile``."""
    rows = frame[(frame["method"] == method) & (frame["profile"] == profile) & (frame["status"] == "ok")]
    rows = rows[np.isfinite(rows["psnr"].astype(float))]
    return rows.nsmallest(count, "psnr")["triplet_id"].tolist()


def write_run_json(root: Path, context: dict) -> None:
    write_file(root / RUN_JSON, json.dumps(context, indent=2) + "\n")
