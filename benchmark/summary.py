"""The numbers of a benchmark run and the files that lay them out.

Per (method, profile): the paper's Table 1 groups (Whole, RoI, Easy, Medium, Hard) and breakdowns by
general-motion and behaviour tag, by bin of motion magnitude and of occlusion share, and by region
(east/west). Each cell holds the means of the scores over the triplets scored (a failed triplet is in
no mean; an infinite PSNR is left out of the PSNR mean and counted).

```
summary.md         Table 1 per profile (with its source), perceptual distances, counts, the first profile's breakdowns
summary.csv        one row per (method, profile): every group's PSNR / SSIM and counts, IE, perceptual means, time
breakdowns.csv     one row per (method, profile, breakdown, group): PSNR, SSIM, perceptual means, triplets
protocols.md       rows = methods, columns = profiles: each metric under each protocol, side by side
```
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import numpy as np
import pandas as pd

from atdkit import schema
from atdkit.benchmark.scoring.scores import PERCEPTUAL
from atdkit.store import write_file

GROUPS = ("whole", "roi", *schema.DIFFICULTIES)  # the Table 1 columns
GROUP_TITLES = {"whole": "Whole", "roi": "RoI", "easy": "Easy", "medium": "Medium", "hard": "Hard"}
PERCEPTUAL_TITLES = {"lpips": "LPIPS", "lpips_vgg": "LPIPS (VGG)", "cd": "CD"}
# bins of the triplets' motion (flow mean, % of the frame diagonal) and occlusion share: (label, low, high)
MOTION_BINS = (("<1%", 0, 1), ("1-2%", 1, 2), ("2-4%", 2, 4), ("4-8%", 4, 8), (">=8%", 8, math.inf))
OCCLUSION_BINS = (("<5%", 0, 0.05), ("5-10%", 0.05, 0.1), ("10-20%", 0.1, 0.2), (">=20%", 0.2, math.inf))
BREAKDOWN_TITLES = {
    "general_motion": "general motion tag",
    "behavior": "behaviour tag",
    "motion": "motion (flow mean, % of the diagonal)",
    "occlusion": "occluded share",
    "region": "region (west: Disney)",
}


def _mean(values: pd.Series) -> float | None:
    values = values.dropna().astype(float)
    values = values[np.isfinite(values)]
    return float(values.mean()) if len(values) else None


def _stats(rows: pd.DataFrame, psnr: str = "psnr", ssim: str = "ssim") -> dict:
    scored = rows[rows[psnr].notna()]
    stats = {
        "psnr": _mean(scored[psnr]),
        "ssim": _mean(scored[ssim]),
        "n": len(scored),
        "inf": int(np.isinf(scored[psnr].astype(float)).sum()),
    }
    if psnr == "psnr":
        stats.update({name: _mean(rows[name]) for name in PERCEPTUAL})
    return stats


def group_rows(rows: pd.DataFrame, group: str) -> tuple[pd.DataFrame, str, str]:
    if group == "whole":
        return rows, "psnr", "ssim"
    if group == "roi":
        return rows, "roi_psnr", "roi_ssim"
    return rows[rows["level"] == schema.DIFFICULTIES.index(group)], "psnr", "ssim"


def breakdowns(rows: pd.DataFrame) -> dict[tuple[str, str], dict]:
    """(breakdown, group) -> stats of the rows in that group, groups in their natural order."""
    found = {}
    for column, vocabulary in (("general_motion", schema.GENERAL_MOTIONS), ("behavior", schema.BEHAVIORS)):
        present = sorted({tag for tags in rows[column] if tags is not None for tag in tags})
        for tag in [*[t for t in vocabulary if t in present], *[t for t in present if t not in vocabulary]]:
            found[(column, tag)] = _stats(rows[[tags is not None and tag in tags for tags in rows[column]]])
    for column, bins in (("motion", MOTION_BINS), ("occlusion", OCCLUSION_BINS)):
        values = rows[column].astype(float)
        for label, low, high in bins:
            inside = rows[(values >= low) & (values < high)]
            if len(inside):
                found[(column, label)] = _stats(inside)
    for region in ("east", "west"):
        inside = rows[rows["region"] == region]
        if len(inside):
            found[("region", region)] = _stats(inside)
    return found


def summarise(frame: pd.DataFrame) -> list[dict]:
    """Per (method, profile), in the table's order: Table 1's groups, breakdowns, IE, counts, time."""
    summary = []
    for (method, profile), rows in frame.groupby(["method", "profile"], sort=False):
        ok = rows[rows["status"] == "ok"]
        summary.append(
            {
                "method": method,
                "profile": profile,
                "triplets": len(rows),
                "failed": int((rows["status"] != "ok").sum()),
                "ie": _mean(ok["ie"]),
                "seconds": _mean(ok["seconds"]),
                "groups": {group: _stats(*group_rows(ok, group)) for group in GROUPS},
                "breakdowns": breakdowns(ok),
            }
        )
    return summary


def cell(stats: dict) -> str:
    """``PSNR / SSIM`` of a group, "–" when nothing was scored."""
    if not stats["n"]:
        return "–"
    psnr = "inf" if stats["psnr"] is None else f"{stats['psnr']:.2f}"
    ssim = "–" if stats["ssim"] is None else f"{stats['ssim']:.3f}"
    return f"{psnr} / {ssim}"


SHOWN = {"psnr": ".2f", "ssim": ".4f", "lpips": ".4f", "lpips_vgg": ".4f", "cd": ".3e"}  # how tables print a mean


def _number(value: float | None, spec: str) -> str:
    return "" if value is None or not math.isfinite(value) else f"{value:{spec}}"


def shown(metric: str, value: float | None) -> str:
    """A metric's mean as the tables print it ("–" when there is none)."""
    return _number(value, SHOWN[metric]) or "–"


def markdown_table(columns: list[str], rows: list[list[str]]) -> list[str]:
    """The lines of a Markdown table, a blank line before it."""
    return ["", "| " + " | ".join(columns) + " |", "|---" * len(columns) + "|"] + [
        "| " + " | ".join(map(str, row)) + " |" for row in rows
    ]


def perceptual_columns(summary: list[dict]) -> list[str]:
    return [name for name in PERCEPTUAL if any(s["groups"]["whole"][name] is not None for s in summary)]


def summary_markdown(summary: list[dict], context: dict) -> str:
    data = context["data"]
    profiles = {facts["name"]: facts for facts in context["profiles"]}
    lines = [
        f"# atdkit bench: {data['path']}",
        "",
        f"{data['triplets']} triplets ({data['layout']} layout"
        f"{', ' + data['split'] + ' split' if data.get('split') else ''}"
        f"{'' if data['labelled'] else ', unlabelled: Whole only'}); "
        f"device {context['device']['name']}, {context['precision']}.",
        "",
        "Means of per-triplet scores over the triplets scored (a failed triplet is in no mean). "
        "An exact prediction has infinite PSNR: it is left out of the PSNR means and counted.",
    ]
    perceptual = perceptual_columns(summary)
    for name, facts in profiles.items():
        mine = [s for s in summary if s["profile"] == name]
        lines += [
            "",
            f"## Profile `{name}`: {facts['summary']}",
            "",
            f"Source: {facts['source']}. Frames: {facts['resize']}. Prediction: {facts['prediction']}. "
            f"SSIM: {facts['ssim']}. PSNR: {facts['psnr']}.",
        ]
        lines += markdown_table(
            ["Method", *GROUP_TITLES.values()], [[s["method"], *(cell(s["groups"][g]) for g in GROUPS)] for s in mine]
        )
        if perceptual:
            lines += markdown_table(
                ["Method", *(PERCEPTUAL_TITLES[p] for p in perceptual)],
                [[s["method"], *(shown(p, s["groups"]["whole"][p]) for p in perceptual)] for s in mine],
            )
        lines += markdown_table(
            ["Method", "triplets", "failed", "infinite PSNR (Whole / RoI)", "RoI scored", "IE", "method s/triplet"],
            [
                [
                    s["method"],
                    s["triplets"],
                    s["failed"],
                    f"{s['groups']['whole']['inf']} / {s['groups']['roi']['inf']}",
                    s["groups"]["roi"]["n"],
                    _number(s["ie"], ".2f"),
                    _number(s["seconds"], ".4f"),
                ]
                for s in mine
            ],
        )
    first = [s for s in summary if s["profile"] == next(iter(profiles))]
    for kind, title in BREAKDOWN_TITLES.items():
        groups = list(dict.fromkeys(group for s in first for (k, group) in s["breakdowns"] if k == kind))
        if not groups:
            continue
        lines += ["", f"## PSNR / SSIM by {title} ({next(iter(profiles))}; triplets)"]
        rows = []
        for s in first:
            cells = [s["breakdowns"].get((kind, group)) for group in groups]
            rows.append([s["method"], *(f"{cell(c)} ({c['n']})" if c else "–" for c in cells)])
        lines += markdown_table(["Method", *groups], rows)
    return "\n".join(lines) + "\n"


def protocols_markdown(summary: list[dict], context: dict) -> str:
    """Rows = methods, columns = profiles: the same whole-frame metric under each protocol."""
    profiles = [facts["name"] for facts in context["profiles"]]
    methods = list(dict.fromkeys(s["method"] for s in summary))
    by_key = {(s["method"], s["profile"]): s["groups"]["whole"] for s in summary}
    lines = [
        f"# The same predictions under {len(profiles)} published protocols",
        "",
        "Whole-frame means; the sources, and what each protocol does, are in run.json and summary.md.",
        "",
    ]
    lines += [f"- `{facts['name']}`: {facts['source']}" for facts in context["profiles"]]
    for metric in ("psnr", "ssim", *perceptual_columns(summary)):
        title = {"psnr": "PSNR (dB)", "ssim": "SSIM"}.get(metric) or PERCEPTUAL_TITLES[metric]
        lines += ["", f"## {title}"]
        lines += markdown_table(
            ["Method", *profiles],
            [
                [method, *(shown(metric, (by_key.get((method, p)) or {}).get(metric)) for p in profiles)]
                for method in methods
            ],
        )
    return "\n".join(lines) + "\n"


def summary_csv(summary: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        [
            "method",
            "profile",
            "triplets",
            "failed",
            *[f"{g}_{m}" for g in GROUPS for m in ("psnr", "ssim")],
            *[f"{g}_n" for g in GROUPS],
            "infinite_psnr",
            "infinite_roi_psnr",
            "ie",
            *PERCEPTUAL,
            "seconds_per_triplet",
        ]
    )
    for s in summary:
        groups = s["groups"]
        writer.writerow(
            [
                s["method"],
                s["profile"],
                s["triplets"],
                s["failed"],
                *[_number(groups[g][m], ".6f") for g in GROUPS for m in ("psnr", "ssim")],
                *[groups[g]["n"] for g in GROUPS],
                groups["whole"]["inf"],
                groups["roi"]["inf"],
                _number(s["ie"], ".6f"),
                *[_number(groups["whole"][name], ".6g") for name in PERCEPTUAL],
                _number(s["seconds"], ".6f"),
            ]
        )
    return out.getvalue()


def breakdowns_csv(summary: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["method", "profile", "breakdown", "group", "psnr", "ssim", *PERCEPTUAL, "n", "infinite_psnr"])
    for s in summary:
        for (kind, group), stats in s["breakdowns"].items():
            writer.writerow(
                [
                    s["method"],
                    s["profile"],
                    kind,
                    group,
                    _number(stats["psnr"], ".6f"),
                    _number(stats["ssim"], ".6f"),
                    *[_number(stats[name], ".6g") for name in PERCEPTUAL],
                    stats["n"],
                    stats["inf"],
                ]
            )
    return out.getvalue()


def write_summary(root: Path, summary: list[dict], context: dict) -> None:
    write_file(root / "summary.md", summary_markdown(summary, context))
    write_file(root / "summary.csv", summary_csv(summary))
    write_file(root / "breakdowns.csv", breakdowns_csv(summary))
    write_file(root / "protocols.md", protocols_markdown(summary, context))
