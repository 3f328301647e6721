"""``atdkit report``: one self-contained HTML page describing a dataset, for a paper's supplement.

Sections: overview, sources, triplet selection (SSIM histograms), motion (Fig. 3b-style
histograms, suggested difficulties), labels (progress, annotator agreement, agreement of the
suggestions), the train/test split, near-duplicates (``atdkit audit``: groups, films sharing content,
groups straddling the split, example pairs as thumbnails) and sample triplets per difficulty. Every image is
embedded (PNG figures, JPEG contact sheets as data URIs), so the file can be mailed or
archived alone. A section without data says which command produces it.
"""

from __future__ import annotations

import base64
import datetime
import html
from collections import Counter
from pathlib import Path

import numpy as np

import atdkit
from atdkit import schema
from atdkit.images import ImageError, encode, read_rgb, resize
from atdkit.pipelines.audit.run import recorded_threshold
from atdkit.pipelines.statistics import plots
from atdkit.pipelines.statistics.motion import FlowSettings, recorded_thresholds, suggestion_agreement
from atdkit.pipelines.statistics.split import SplitSettings, check_exclusive, content_of, summarise
from atdkit.store import Dataset, write_file

THUMBNAIL_WIDTH = 240
GAP = 4  # pixels between the frames of a contact-sheet row
NAVIGATION = (
    ("overview", "Overview"),
    ("sources", "Sources"),
    ("selection", "Selection"),
    ("motion", "Motion"),
    ("labels", "Labels"),
    ("split", "Split"),
    ("duplicates", "Duplicates"),
    ("samples", "Samples"),
)

STYLE = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #222;
       max-width: 1180px; margin: 2em auto; padding: 0 1.5em; }
h1 { margin-bottom: 0.1em; } h2 { border-bottom: 2px solid #ddd; padding-bottom: 0.2em; margin-top: 2em; }
nav a { margin-right: 1em; } .meta, .empty, figcaption, .note { color: #666; }
.empty { font-style: italic; }
table { border-collapse: collapse; margin: 0.6em 0 1em; font-size: 14px; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.6em; text-align: right; }
th { background: #f4f4f4; } td.text, th:first-child { text-align: left; }
.numbers { display: flex; gap: 1.5em; flex-wrap: wrap; }
.numbers div { background: #f6f6f6; border-radius: 6px; padding: 0.5em 1em; }
.numbers b { display: block; font-size: 1.6em; }
img.figure { max-width: 100%; }
.sheet { display: flex; flex-wrap: wrap; gap: 1em; }
.sheet figure { margin: 0; } .sheet img { display: block; border: 1px solid #ccc; }
code { background: #f4f4f4; padding: 0 0.25em; }
"""


def _e(value) -> str:
    return html.escape(str(value))


def _table(header: list[str], rows: list[list]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="text">{_e(c)}</td>' if isinstance(c, str) and not c[:1].isdigit() else f"<td>{_e(c)}</td>"
            for c in row
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _image(data: bytes, mime: str, alt: str, css: str = "figure") -> str:
    return f'<img class="{css}" alt="{_e(alt)}" src="data:{mime};base64,{base64.b64encode(data).decode()}">'


def _empty(text: str) -> str:
    return f'<p class="empty">{text}</p>'


def _section(anchor: str, title: str, body: str) -> str:
    return f'<section id="{anchor}"><h2>{_e(title)}</h2>{body}</section>'


def _share(part: int, whole: int) -> str:
    return f"{part / whole:.1%}" if whole else "-"


class ReportData:
    """The dataset's tables, each None when absent."""

    def __init__(self, dataset: Dataset):
        self.dataset = dataset
        self.triplets = dataset.read("triplets", required=True)
        self.sources = dataset.read("sources")
        self.motion = dataset.read("motion")
        self.labels = dataset.read("labels")
        self.splits = dataset.read("splits")
        self.command = f"atdkit {{}} {dataset.root}"

    def run(self, step: str) -> str:
        return f"<code>{_e(self.command.format(step))}</code>"


def overview(data: ReportData) -> str:
    triplets = data.triplets
    numbers = [
        ("triplets", triplets.num_rows),
        ("films", len(set(triplets["source_id"].to_pylist()))),
        ("series", len({s for s in triplets["series"].to_pylist() if s is not None})),
    ]
    if data.labels is not None:
        numbers.append(("labelled", data.labels.num_rows))
    if data.splits is not None:
        sides = Counter(data.splits["split"].to_pylist())
        numbers += [(f"{side} triplets", sides.get(side, 0)) for side in schema.SPLIT_SIDES]
    cells = "".join(f"<div><b>{n:,}</b>{_e(label)}</div>" for label, n in numbers)
    return _section("overview", "Overview", f'<div class="numbers">{cells}</div>')


def sources_section(data: ReportData) -> str:
    kept = Counter(data.triplets["source_id"].to_pylist())
    sides: dict[str, set] = {}
    if data.splits is not None:
        side_of = dict(zip(data.splits["triplet_id"].to_pylist(), data.splits["split"].to_pylist()))
        for triplet_id, source in zip(data.triplets["triplet_id"].to_pylist(), data.triplets["source_id"].to_pylist()):
            if triplet_id in side_of:
                sides.setdefault(source, set()).add(side_of[triplet_id])
    if data.sources is None:
        rows = [[s, n, "/".join(sorted(sides.get(s, ()))) or "-"] for s, n in sorted(kept.items())]
        note = _empty(
            f"No sources.parquet: only the triplet counts are known (run {data.run('extract --videos ... --out')})."
        )
        return _section("sources", "Sources", note + _table(["film", "triplets", "split"], rows))
    rows = [
        [
            r["source_id"],
            r["series"] or "-",
            r["status"],
            f"{r['width']}x{r['height']}" if r["width"] else "-",
            f"{r['fps']:.3f}" if r["fps"] else "-",
            r["frame_count"] or 0,
            r["candidates"] or 0,
            kept.get(r["source_id"], 0),
            "/".join(sorted(sides.get(r["source_id"], ()))) or "-",
            r["shots"] if r["shots"] is not None else "-",
            _timing(r),
        ]
        for r in data.sources.to_pylist()
    ]
    header = ["film", "series", "status", "size", "fps", "frames", "candidates", "triplets", "split", "shots"]
    return _section("sources", "Sources", _table([*header, TIMING], rows) + _shots_table(data))


TIMING = "drawings on 1s / 2s / 3s / longer"


def _timing(row: dict) -> str:
    """A film's or a shot's share of drawings held for 1, 2, 3 and more frames (extraction's timing)."""
    shares = [row[f"on_{hold}"] for hold in ("ones", "twos", "threes", "longer")]
    return "-" if shares[0] is None else " / ".join(f"{share:.0%}" for share in shares)


def _shots_table(data: ReportData) -> str:
    shots = data.dataset.read("shots")
    if shots is None or shots.num_rows == 0:
        return ""
    rows = [
        [r["source_id"], r["shot"], f"{r['start']}-{r['stop'] - 1}", r["drawings"], r["pattern"], _timing(r)]
        for r in shots.to_pylist()
    ]
    table = _table(["film", "shot", "frames", "drawings", "timing", TIMING], rows)
    return f"<details><summary>{shots.num_rows} shots: how each is timed</summary>{table}</details>"


def selection_section(data: ReportData) -> str:
    triplets = data.triplets
    if triplets.num_rows == 0:
        return _section("selection", "Triplet selection", _empty("No triplets: every candidate was rejected."))
    intervals = Counter(triplets["interval"].to_pylist())
    rows = [
        [f"{k} (frames i, i+{k + 1}, i+{2 * k + 2})", n, _share(n, triplets.num_rows)]
        for k, n in sorted(intervals.items())
    ]
    body = (
        "<p>Pair SSIMs of the kept triplets (all three pairs lie in the band the films were extracted with).</p>"
        + _image(plots.ssim_histograms(triplets), "image/png", "SSIM histograms")
        + _table(["frames skipped", "triplets", "share"], rows)
    )
    return _section("selection", "Triplet selection", body)


def motion_section(data: ReportData) -> str:
    motion = data.motion
    if motion is None or motion.num_rows == 0:
        return _section("motion", "Motion", _empty(f"No motion statistics yet: run {data.run('stats')}."))
    path = data.dataset.table_path("motion")
    settings, thresholds = FlowSettings.of_table(path), recorded_thresholds(path)
    rows = []
    for column, label in (
        ("flow_mean", "flow mean (px)"),
        ("flow_std", "flow std (px)"),
        ("occlusion_ratio", "occluded share"),
    ):
        values = motion[column].to_numpy()
        rows.append([label, *(f"{v:.3g}" for v in np.percentile(values, [10, 50, 90, 100]))])
    counts = Counter(motion["suggested_difficulty"].to_pylist())
    body = (
        f"<p>Optical flow frame1&nbsp;&harr;&nbsp;frame3 of {motion.num_rows:,} triplets: {_e(settings.describe())}; "
        "displacements in pixels of the saved frames. "
        "Histograms are normalised (share of triplets per bin), as in the paper's Fig. 3b.</p>"
        + _image(
            plots.motion_histograms({data.dataset.root.name or "dataset": motion}), "image/png", "motion histograms"
        )
        + _table(["statistic", "10%", "median", "90%", "max"], rows)
        + "<h3>Suggested difficulty</h3>"
        + (
            f"<p>{_e(thresholds.describe())} (motion: flow mean as a share of the frame diagonal).</p>"
            if thresholds
            else ""
        )
        + _table(
            ["difficulty", "triplets", "share"],
            [[d, counts.get(d, 0), _share(counts.get(d, 0), motion.num_rows)] for d in schema.DIFFICULTIES],
        )
    )
    return _section("motion", "Motion", body)


def labels_section(data: ReportData) -> str:
    labels = data.labels
    if labels is None:
        how = f"label the triplets with {data.run('annotate')}, then run {data.run('consolidate')}"
        return _section("labels", "Labels", _empty(f"No labels yet: {how}."))
    total, rows = data.triplets.num_rows, labels.to_pylist()
    multiple = [r for r in rows if (r["n_labels"] or 0) >= 2]
    unanimous = sum(1 for r in multiple if r["n_eligible"] in (0, r["n_labels"]))
    kept, review = sum(1 for r in rows if r["kept"]), sum(1 for r in rows if r["needs_review"])
    progress = [
        ["labelled triplets", len(rows), _share(len(rows), total)],
        ["labelled by two or more annotators", len(multiple), _share(len(multiple), total)],
        ["kept (eligible for at least two annotators)", kept, _share(kept, total)],
        ["needing review", review, _share(review, total)],
    ]
    annotators = Counter(r["n_labels"] or 0 for r in rows)
    body = "<h3>Progress</h3>" + _table(["", "triplets", f"of {total:,}"], progress)
    body += "<h3>Annotator agreement</h3>"
    body += (
        (
            f"<p>On eligibility, the annotators of {unanimous:,} of the {len(multiple):,} triplets labelled "
            f"more than once agree unanimously ({_share(unanimous, len(multiple))}).</p>"
        )
        if multiple
        else _empty("No triplet has two labels yet.")
    )
    body += _table(["annotators", "triplets"], [[k, n] for k, n in sorted(annotators.items())])
    difficulty = Counter(r["difficulty"] for r in rows if r["difficulty"])
    body += "<h3>Human difficulty</h3>" + _table(
        ["difficulty", "triplets"], [[d, difficulty.get(d, 0)] for d in schema.DIFFICULTIES]
    )
    agreement = suggestion_agreement(data.dataset, data.motion) if data.motion is not None else None
    if agreement is not None:
        body += (
            f"<p>Suggested against human difficulty on {agreement.n:,} triplets: quadratic-weighted kappa "
            f"{agreement.kappa:.3f}, {agreement.exact:.0%} identical.</p>"
        )
        confusion = [[d, *row] for d, row in zip(schema.DIFFICULTIES, agreement.confusion.tolist())]
        body += _table(["human \\ suggested", *schema.DIFFICULTIES], confusion)
    else:
        body += _empty(
            f"Agreement with the suggested difficulty needs motion statistics ({data.run('stats')}) "
            "and human difficulties."
        )
    tags = Counter(t for r in rows for t in (r["general_motion"] or []) + (r["behavior"] or []))
    body += "<h3>Motion tags</h3>"
    all_tags = (*schema.GENERAL_MOTIONS, *schema.BEHAVIORS)
    body += _table(["tag", "triplets"], [[t, tags[t]] for t in all_tags]) if tags else _empty("No motion tags yet.")
    return _section("labels", "Labels", body)


def split_section(data: ReportData) -> str:
    if data.splits is None:
        return _section("split", "Train/test split", _empty(f"No split yet: run {data.run('split')}."))
    settings = SplitSettings.of_table(data.dataset) or SplitSettings()
    shared = check_exclusive(data.triplets, data.splits, settings.by, content_of(data.dataset))
    sides = summarise(data.triplets, data.splits, data.labels, settings.by)
    header = [
        "side",
        "triplets",
        "share",
        "films" if settings.by == "source" else "series",
        *schema.DIFFICULTIES,
        "unlabelled",
    ]
    levels = (*schema.DIFFICULTIES, "unlabelled")
    rows = [
        [s.side, s.triplets, f"{s.share:.1%}", ", ".join(s.groups), *(s.difficulties.get(d, 0) for d in levels)]
        for s in sides
    ]
    verdict = (
        f"<p><b>Not exclusive:</b> on both sides: {_e(', '.join(shared))}.</p>"
        if shared
        else f"<p>No {_e(settings.by)} is on both sides.</p>"
    )
    body = (
        f"<p>Split by {_e(settings.by)}, test fraction {settings.test_fraction:g}, seed {settings.seed}; "
        "difficulties are the human labels.</p>" + verdict + _table(header, rows)
    )
    tags = [t for t in (*schema.GENERAL_MOTIONS, *schema.BEHAVIORS) if any(s.tags.get(t) for s in sides)]
    if tags:
        body += _table(["tag", *(s.side for s in sides)], [[t, *(s.tags.get(t, 0) for s in sides)] for t in tags])
    return _section("split", "Train/test split", body)


EXAMPLE_GROUPS = 6  # near-duplicate groups shown with thumbnails


def duplicates_section(data: ReportData) -> str:
    duplicates = data.dataset.read("duplicates")
    if duplicates is None:
        return _section("duplicates", "Near-duplicates", _empty(f"No audit yet: run {data.run('audit')}."))
    threshold = recorded_threshold(data.dataset)
    source_of = dict(zip(data.triplets["triplet_id"].to_pylist(), data.triplets["source_id"].to_pylist()))
    side_of = dict(zip(data.splits["triplet_id"].to_pylist(), data.splits["split"].to_pylist())) if data.splits else {}
    members: dict[int, list[tuple[str, int]]] = {}
    for triplet_id, group, distance in zip(*(duplicates[c].to_pylist() for c in ("triplet_id", "group", "distance"))):
        members.setdefault(group, []).append((triplet_id, distance))
    body = (
        f"<p>{len(duplicates):,} triplets in {len(members):,} groups of near-duplicates "
        f"(perceptual signatures at most {_e(threshold)} of 192 bits apart, chained: docs/audit.md). "
        "Distance: to the closest member of the group. A triplet no longer in triplets.parquet was set "
        "aside by <code>--dedup</code>.</p>"
    )
    groups = data.dataset.read("source_groups")
    films: dict[int, list[str]] = {}
    for source_id, group in zip(*(groups[c].to_pylist() for c in ("source_id", "content_group"))) if groups else ():
        films.setdefault(group, []).append(source_id)
    shared = [f for f in films.values() if len(f) > 1]
    body += (
        _table(["films sharing content (one content group)"], [[", ".join(f)] for f in shared])
        if shared
        else "<p>No two films share content.</p>"
    )
    straddling = [g for g, m in members.items() if {side_of.get(t) for t, _ in m} >= {"train", "test"}]
    if side_of:
        body += (
            f"<p><b>Leakage:</b> {len(straddling)} group(s) have triplets on both sides of the split: "
            f"{_e(', '.join(map(str, straddling[:20])))}.</p>"
            if straddling
            else "<p>No group has triplets on both sides of the split.</p>"
        )
    rows = [
        [g, len(m), ", ".join(sorted({source_of.get(t, "set aside") for t, _ in m})), min(d for _, d in m)]
        for g, m in sorted(members.items(), key=lambda gm: (-len(gm[1]), gm[0]))
    ]
    body += _table(["group", "triplets", "films", "closest distance"], rows[:50])
    figures = []
    for group, _, _, _ in rows[:EXAMPLE_GROUPS]:
        pair = sorted(members[group], key=lambda td: (source_of.get(td[0]) is None, td[1], td[0]))[:2]
        for triplet_id, distance in pair:
            jpeg = contact_row(data.dataset.triplet_dir(triplet_id))
            if jpeg is not None:
                caption = f"group {group}: {triplet_id}, distance {distance}"
                if side_of.get(triplet_id):
                    caption += f", {side_of[triplet_id]}"
                figures.append(
                    f"<figure>{_image(jpeg, 'image/jpeg', triplet_id, 'triplet')}<figcaption>{_e(caption)}"
                    "</figcaption></figure>"
                )
    if figures:
        body += "<h3>Example pairs</h3>" + f'<div class="sheet">{"".join(figures)}</div>'
    return _section("duplicates", "Near-duplicates", body)


def contact_row(folder: Path) -> bytes | None:
    """frame1, frame2 and frame3 side by side as a JPEG, or None when a frame cannot be read."""
    try:
        frames = [read_rgb(folder / f"frame{i}.png") for i in (1, 2, 3)]
    except ImageError:
        return None
    height = max(1, round(frames[0].shape[0] * THUMBNAIL_WIDTH / frames[0].shape[1]))
    small = [resize(f, (THUMBNAIL_WIDTH, height)) for f in frames]
    gap = np.full((height, GAP, 3), 255, np.uint8)
    return encode(np.hstack([small[0], gap, small[1], gap, small[2]]), ".jpg", jpeg_quality=85)


def samples_section(data: ReportData, per_group: int) -> str:
    ids = data.triplets["triplet_id"].to_pylist()
    human = (
        dict(zip(data.labels["triplet_id"].to_pylist(), data.labels["difficulty"].to_pylist()))
        if data.labels is not None
        else {}
    )
    motion = {r["triplet_id"]: r for r in data.motion.to_pylist()} if data.motion is not None else {}
    groups: dict[str, list[str]] = {}
    for triplet_id in ids:
        level = human.get(triplet_id) or (motion.get(triplet_id) or {}).get("suggested_difficulty") or "unrated"
        groups.setdefault(level, []).append(triplet_id)
    body = (
        "<p>Each row: frame1, frame2 (the one to interpolate), frame3. "
        "Difficulty is the human label where there is one, else the suggestion.</p>"
    )
    if per_group == 0 or not ids:
        return _section("samples", "Sample triplets", body + _empty("No samples asked for." if ids else "No triplets."))
    rng = np.random.default_rng(0)
    missing = 0
    for level in (*schema.DIFFICULTIES, "unrated"):
        pool = groups.get(level, [])
        if level == "unrated" and not pool:
            continue
        body += f"<h3>{_e(level)} <span class='meta'>({len(pool):,} triplets)</span></h3>"
        if not pool:
            body += _empty(f"No {level} triplet yet.")
            continue
        figures = []
        for index in sorted(rng.permutation(len(pool))[:per_group]):
            triplet_id = pool[index]
            jpeg = contact_row(data.dataset.triplet_dir(triplet_id))
            if jpeg is None:
                missing += 1
                continue
            facts = [("human" if human.get(triplet_id) else "suggested") + f": {level}"] if level != "unrated" else []
            if triplet_id in motion:
                facts += [
                    f"flow {motion[triplet_id]['flow_mean']:.1f} px",
                    f"occluded {motion[triplet_id]['occlusion_ratio']:.1%}",
                ]
            figures.append(
                f"<figure>{_image(jpeg, 'image/jpeg', triplet_id, 'triplet')}<figcaption>{_e(triplet_id)}"
                f"<br>{_e(', '.join(facts))}</figcaption></figure>"
            )
        body += (
            f'<div class="sheet">{"".join(figures)}</div>'
            if figures
            else _empty("The sampled triplets' frames are not on disk.")
        )
    if missing:
        body += f'<p class="note">{missing} sampled triplet(s) left out: frames missing (a --dry-run extraction?).</p>'
    return _section("samples", "Sample triplets", body)


def build_report(dataset: Dataset, samples: int = 4) -> str:
    data = ReportData(dataset)
    name = dataset.root.resolve().name
    sections = [
        overview(data),
        sources_section(data),
        selection_section(data),
        motion_section(data),
        labels_section(data),
        split_section(data),
        duplicates_section(data),
        samples_section(data, samples),
    ]
    nav = "".join(f'<a href="#{anchor}">{title}</a>' for anchor, title in NAVIGATION)
    generated = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{_e(name)}: atdkit dataset report</title>'
        f"<style>{STYLE}</style></head><body><header><h1>{_e(name)}</h1>"
        f'<p class="meta">{_e(dataset.root.resolve())} &middot; generated {_e(generated)} '
        f"by atdkit {_e(atdkit.__version__)}</p>"
        f"<nav>{nav}</nav></header>{''.join(sections)}</body></html>\n"
    )


def write_report(dataset: Dataset, out: Path | None = None, samples: int = 4) -> Path:
    """Write the report (default ``DATASET_DIR/report.html``) atomically; returns its path."""
    path = out or dataset.root / "report.html"
    write_file(path, build_report(dataset, samples))
    return path
