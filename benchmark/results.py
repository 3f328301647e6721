"""The results folder of ``atdkit bench``: per-triplet rows, the Table-1 summary, run.json and plots.

```
RESULTS_DIR/
  per_triplet.parquet     one row per (method, triplet): atdkit.schema.BENCH_RESULTS
  summary.md              Table 1 layout (Whole, RoI, Easy, Medium, Hard; PSNR / SSIM), then per tag
  summary.csv             the same Table 1 numbers, one row per method, with counts
  summary_tags.csv        PSNR / SSIM per general motion and behaviour tag
  run.json                versions, device, metric profile, padding, precision, weights, data, command
  psnr_by_level.png       PSNR per level per method
  psnr_distribution.png   per-triplet PSNR per method
  worst_<method>.png      the 10 worst triplets: inputs, prediction, truth, error map
  frames/<method>/<id>.png  predictions (8-bit), with --save-frames
```

Rows are committed in parts (``.partial/``) as a run goes, so a killed run resumes with
``--resume``; the final files are written under temporary names and renamed into place.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from atdkit import schema
from atdkit.images import write_image
from atdkit.metrics import Profile
from atdkit.store import atomic_path, remove, write_file, write_table

PER_TRIPLET, RUN_JSON = "per_triplet.parquet", "run.json"
PARTIAL = ".partial"
GROUPS = ("whole", "roi", *schema.DIFFICULTIES)  # the Table 1 columns
GROUP_TITLES = {"whole": "Whole", "roi": "RoI", "easy": "Easy", "medium": "Medium", "hard": "Hard"}
WORST = 10
SHEET_WIDTH = 320  # px of each contact-sheet panel


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

    def check_start(self, resume: bool, profile: Profile, fingerprint: str) -> None:
        """Refuse to mix runs: earlier results need --resume, and --resume needs the same profile, size and data."""
        started = self.per_triplet.exists() or bool(self._parts())
        if started and not resume:
            raise ResultsError(
                f"{self.root} already holds benchmark results: pass --resume to add to them, or choose another --out"
            )
        if not (resume and self.run_json.exists()):
            return
        earlier = json.loads(self.run_json.read_text())
        if earlier["profile"]["name"] != profile.name:
            raise ResultsError(
                f"{self.root} was scored with profile {earlier['profile']['name']}, not {profile.name}: "
                "choose another --out"
            )
        if earlier["profile"]["resize"] != profile.facts()["resize"]:
            scored_at = earlier["profile"]["resize"].split(",")[0]
            raise ResultsError(
                f"{self.root} was scored at {scored_at}, not {profile.size[0]}x{profile.size[1]} (--size): "
                "choose another --out"
            )
        if earlier["data"]["fingerprint"] != fingerprint:
            raise ResultsError(f"{self.root} was scored on other data (or DATA changed since): choose another --out")

    def rows(self) -> pd.DataFrame:
        """Every row scored so far (final table and committed parts), the latest per (method, triplet)."""
        tables = [
            pq.read_table(path, schema=schema.BENCH_RESULTS)
            for path in ([self.per_triplet] if self.per_triplet.exists() else []) + self._parts()
        ]
        if not tables:
            return schema.BENCH_RESULTS.empty_table().to_pandas()
        frame = pa.concat_tables(tables).to_pandas()
        return frame.drop_duplicates(["method", "triplet_id"], keep="last").reset_index(drop=True)

    def commit_part(self, rows: list[dict]) -> None:
        if not rows:
            return
        existing = self._parts()
        number = int(existing[-1].stem.split("-")[1]) + 1 if existing else 0
        write_table(self.partial / f"part-{number:06d}.parquet", rows, schema.BENCH_RESULTS)

    def finish(self, method_order: list[str]) -> pd.DataFrame:
        """Merge the parts into per_triplet.parquet (methods in ``method_order``, then by triplet)."""
        frame = self.rows()
        order = {name: i for i, name in enumerate(dict.fromkeys([*method_order, *frame["method"]]))}
        frame = frame.sort_values(["method", "triplet_id"], key=lambda c: c.map(order) if c.name == "method" else c)
        frame = frame.reset_index(drop=True)
        write_table(
            self.per_triplet,
            pa.Table.from_pandas(frame, schema=schema.BENCH_RESULTS, preserve_index=False),
            schema.BENCH_RESULTS,
        )
        if self.partial.exists():
            remove(self.partial)
        return frame


def _mean(values: pd.Series) -> float | None:
    values = values.dropna()
    values = values[np.isfinite(values)]
    return float(values.mean()) if len(values) else None


def _stats(rows: pd.DataFrame, psnr: str, ssim: str) -> dict:
    scored = rows[rows[psnr].notna()]
    return {
        "psnr": _mean(scored[psnr]),
        "ssim": _mean(scored[ssim]),
        "n": len(scored),
        "inf": int(np.isinf(scored[psnr]).sum()),
    }


def group_rows(rows: pd.DataFrame, group: str) -> tuple[pd.DataFrame, str, str]:
    if group == "whole":
        return rows, "psnr", "ssim"
    if group == "roi":
        return rows, "roi_psnr", "roi_ssim"
    return rows[rows["level"] == schema.DIFFICULTIES.index(group)], "psnr", "ssim"


def summarise(frame: pd.DataFrame) -> list[dict]:
    """Per method: Table 1's groups (PSNR, SSIM, triplets, infinite PSNRs), IE, counts and time."""
    summary = []
    for method, rows in frame.groupby("method", sort=False):
        ok = rows[rows["status"] == "ok"]
        entry = {
            "method": method,
            "triplets": len(rows),
            "failed": int((rows["status"] != "ok").sum()),
            "ie": _mean(ok["ie"]),
            "seconds": _mean(ok["seconds"]),
            "groups": {group: _stats(*group_rows(ok, group)) for group in GROUPS},
            "tags": {},
        }
        for column in ("general_motion", "behavior"):
            present = sorted({tag for tags in ok[column] if tags is not None for tag in tags})
            vocabulary = schema.GENERAL_MOTIONS if column == "general_motion" else schema.BEHAVIORS
            for tag in [*[t for t in vocabulary if t in present], *[t for t in present if t not in vocabulary]]:
                tagged = ok[[tags is not None and tag in tags for tags in ok[column]]]
                entry["tags"][(column, tag)] = _stats(tagged, "psnr", "ssim")
        summary.append(entry)
    return summary


def cell(stats: dict) -> str:
    if not stats["n"]:
        return "–"
    psnr = "inf" if stats["psnr"] is None else f"{stats['psnr']:.2f}"
    ssim = "–" if stats["ssim"] is None else f"{stats['ssim']:.3f}"
    return f"{psnr} / {ssim}"


def _number(value: float | None, digits: int) -> str:
    return "" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def summary_markdown(summary: list[dict], context: dict) -> str:
    data, profile = context["data"], context["profile"]
    lines = [
        f"# atdkit bench: {data['path']}",
        "",
        f"{data['triplets']} triplets ({data['layout']} layout"
        f"{', ' + data['split'] + ' split' if data.get('split') else ''}"
        f"{'' if data['labelled'] else ', unlabelled: Whole only'}); "
        f"metric profile `{profile['name']}` ({profile['summary']}); "
        f"device {context['device']['name']}, {context['precision']}.",
        "",
        "## PSNR / SSIM, laid out like the paper's Table 1",
        "",
        "| Method | Whole | RoI | Easy | Medium | Hard |",
        "|---|---|---|---|---|---|",
    ]
    lines += [f"| {s['method']} | " + " | ".join(cell(s["groups"][g]) for g in GROUPS) + " |" for s in summary]
    lines += [
        "",
        "Means of per-triplet scores over the triplets scored (a failed triplet is in no mean). "
        "An exact prediction has infinite PSNR: it is left out of the PSNR means and counted below.",
        "",
        "| Method | triplets | failed | infinite PSNR (Whole / RoI) | RoI scored | IE | method s/triplet |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in summary:
        whole, roi = s["groups"]["whole"], s["groups"]["roi"]
        lines.append(
            f"| {s['method']} | {s['triplets']} | {s['failed']} | {whole['inf']} / {roi['inf']} | {roi['n']} | "
            f"{_number(s['ie'], 2)} | {_number(s['seconds'], 4)} |"
        )
    for column, title in (("general_motion", "general motion"), ("behavior", "behaviour")):
        tags = list(dict.fromkeys(tag for s in summary for (kind, tag) in s["tags"] if kind == column))
        if not tags:
            continue
        lines += [
            "",
            f"## PSNR / SSIM by {title} tag (triplets)",
            "",
            "| Method | " + " | ".join(tags) + " |",
            "|---" * (len(tags) + 1) + "|",
        ]
        for s in summary:
            cells = [s["tags"].get((column, tag)) for tag in tags]
            lines.append(
                f"| {s['method']} | " + " | ".join(f"{cell(c)} ({c['n']})" if c else "–" for c in cells) + " |"
            )
    return "\n".join(lines) + "\n"


def summary_csv(summary: list[dict]) -> str:
    out = io.StringIO()
    header = [
        "method",
        "triplets",
        "failed",
        *[f"{g}_{m}" for g in GROUPS for m in ("psnr", "ssim")],
        *[f"{g}_n" for g in GROUPS],
        "infinite_psnr",
        "infinite_roi_psnr",
        "ie",
        "seconds_per_triplet",
    ]
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for s in summary:
        groups = s["groups"]
        writer.writerow(
            [
                s["method"],
                s["triplets"],
                s["failed"],
                *[_number(groups[g][m], 6) for g in GROUPS for m in ("psnr", "ssim")],
                *[groups[g]["n"] for g in GROUPS],
                groups["whole"]["inf"],
                groups["roi"]["inf"],
                _number(s["ie"], 6),
                _number(s["seconds"], 6),
            ]
        )
    return out.getvalue()


def tags_csv(summary: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["method", "kind", "tag", "psnr", "ssim", "n", "infinite_psnr"])
    for s in summary:
        for (kind, tag), stats in s["tags"].items():
            writer.writerow(
                [s["method"], kind, tag, _number(stats["psnr"], 6), _number(stats["ssim"], 6), stats["n"], stats["inf"]]
            )
    return out.getvalue()


def write_summary(root: Path, summary: list[dict], context: dict) -> None:
    write_file(root / "summary.md", summary_markdown(summary, context))
    write_file(root / "summary.csv", summary_csv(summary))
    write_file(root / "summary_tags.csv", tags_csv(summary))


def worst(frame: pd.DataFrame, method: str, count: int = WORST) -> list[str]:
    """Triplet ids of ``method``'s ``count`` lowest finite PSNRs."""
    rows = frame[(frame["method"] == method) & (frame["status"] == "ok") & np.isfinite(frame["psnr"].astype(float))]
    return rows.nsmallest(count, "psnr")["triplet_id"].tolist()


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(figure, path: Path) -> None:
    with atomic_path(path) as tmp:
        figure.savefig(tmp, dpi=100, bbox_inches="tight")


def plot_levels(summary: list[dict], path: Path) -> None:
    """Grouped bars: mean PSNR of each Table 1 group (with data), one bar per method."""
    plt = _pyplot()
    groups = [g for g in GROUPS if any(s["groups"][g]["psnr"] is not None for s in summary)]
    figure, axes = plt.subplots(figsize=(1.6 + 1.4 * len(groups) * max(1, len(summary)) / 2, 4))
    width = 0.8 / max(1, len(summary))
    for i, s in enumerate(summary):
        values = [s["groups"][g]["psnr"] or 0.0 for g in groups]
        bars = axes.bar(np.arange(len(groups)) + (i - (len(summary) - 1) / 2) * width, values, width, label=s["method"])
        axes.bar_label(bars, fmt="%.2f", fontsize=7, padding=2)
    axes.set_xticks(np.arange(len(groups)), [GROUP_TITLES[g] for g in groups])
    axes.set_ylabel("mean PSNR (dB)")
    axes.set_title("PSNR per level")
    finite = [s["groups"][g]["psnr"] for s in summary for g in groups if s["groups"][g]["psnr"] is not None]
    if finite:
        axes.set_ylim(max(0.0, min(finite) - 3), max(finite) + 2)
    axes.legend(fontsize=8)
    _save(figure, path)
    plt.close(figure)


def plot_distribution(frame: pd.DataFrame, methods: list[str], path: Path) -> None:
    """Per-triplet PSNR per method (violins), exact predictions counted in the labels."""
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(2 + 1.6 * len(methods), 4))
    data, labels = [], []
    for method in methods:
        psnr = frame.loc[(frame["method"] == method) & (frame["status"] == "ok"), "psnr"].astype(float)
        finite = psnr[np.isfinite(psnr)].to_numpy()
        data.append(finite if len(finite) else np.array([np.nan]))
        infinite = int(np.isinf(psnr).sum())
        labels.append(f"{method}\n(n={len(finite)}" + (f", +{infinite} inf)" if infinite else ")"))
    positions = np.arange(1, len(methods) + 1)
    drawable = [i for i, d in enumerate(data) if np.isfinite(d).sum() > 1]
    if drawable:
        axes.violinplot([data[i] for i in drawable], positions[drawable], showmedians=True)
    for i, values in enumerate(data):
        axes.scatter(np.full(len(values), positions[i]), values, s=4, color="black", alpha=0.4)
    axes.set_xticks(positions, labels, fontsize=8)
    axes.set_ylabel("PSNR (dB)")
    axes.set_title("PSNR per triplet")
    _save(figure, path)
    plt.close(figure)


def _text(image: np.ndarray, text: str, origin: tuple[int, int], scale: float = 0.5) -> None:
    cv2.putText(image, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, (20, 20, 20), 1, cv2.LINE_AA)


def contact_sheet(method: str, panels: list[dict], path: Path) -> None:
    """One row per triplet: frame1, frame3, prediction, ground truth, error map (RGB distance, inferno).

    ``panels``: dicts with triplet_id, psnr, frame1, frame3, truth (uint8 RGB) and prediction (float RGB as scored).
    """
    titles = ("frame1", "frame3", "prediction", "ground truth", "error: RGB distance (0-255)")
    height, width = panels[0]["truth"].shape[:2]
    panel_h = round(height * SHEET_WIDTH / width)
    label_w, gap, header = 190, 6, 56
    sheet = np.full((header + len(panels) * (panel_h + gap), label_w + 5 * (SHEET_WIDTH + gap), 3), 255, np.uint8)
    _text(sheet, f"{method}: the {len(panels)} worst triplets by PSNR", (8, 22), 0.65)
    for column, title in enumerate(titles):
        _text(sheet, title, (label_w + column * (SHEET_WIDTH + gap), header - 10))
    for row, panel in enumerate(panels):
        truth = panel["truth"].astype(np.float64) / 255.0
        error = np.sqrt(np.sum((panel["prediction"] - truth) ** 2, axis=2)) * 255.0
        top = max(64.0, float(np.percentile(error, 99.5)))
        error_map = cv2.cvtColor(
            cv2.applyColorMap(np.uint8(np.clip(error / top, 0, 1) * 255), cv2.COLORMAP_INFERNO), cv2.COLOR_BGR2RGB
        )
        prediction = np.uint8(np.round(np.clip(panel["prediction"], 0, 1) * 255))
        y = header + row * (panel_h + gap)
        for column, image in enumerate((panel["frame1"], panel["frame3"], prediction, panel["truth"], error_map)):
            x = label_w + column * (SHEET_WIDTH + gap)
            sheet[y : y + panel_h, x : x + SHEET_WIDTH] = cv2.resize(
                image, (SHEET_WIDTH, panel_h), interpolation=cv2.INTER_AREA
            )
        _text(sheet, panel["triplet_id"][:24], (8, y + panel_h // 2 - 4), 0.45)
        _text(sheet, f"{panel['psnr']:.2f} dB; error scale 0-{top:.0f}", (8, y + panel_h // 2 + 16), 0.45)
    write_image(path, sheet)


def write_run_json(root: Path, context: dict) -> None:
    write_file(root / RUN_JSON, json.dumps(context, indent=2) + "\n")
