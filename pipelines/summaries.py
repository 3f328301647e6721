"""Terminal summaries of ``atdkit stats`` and ``atdkit split`` (rich tables)."""
from __future__ import annotations

import numpy as np
from rich.console import Console
from rich.table import Table

from atdkit import schema
from pipelines.difficulty import Agreement
from pipelines.motion import Calibration, MotionReport
from pipelines.split import SideSummary, SplitSettings


def print_motion(console: Console, report: MotionReport, histograms, agreement: Agreement | None) -> None:
    table = report.table
    measured = (f"measured {report.measured} triplet(s) in {report.seconds:.1f} s ({report.rate:.1f} triplets/s)"
                if report.measured else "nothing new to measure")
    console.print(f"{measured}, {report.reused} reused from an earlier run; {report.settings.describe()}", highlight=False)
    summary = Table(title="motion per triplet", title_justify="left")
    for column in ("statistic", "median", "10%", "90%", "max"):
        summary.add_column(column, justify="left" if column == "statistic" else "right")
    for column, label, unit in (("flow_mean", "flow mean", " px"), ("flow_std", "flow std", " px"), ("occlusion_ratio", "occluded", "%")):
        values = table[column].to_numpy() * (100 if unit == "%" else 1)
        cells = [f"{v:.3g}{unit}" for v in np.percentile(values, [50, 10, 90, 100])] if len(values) else ["-"] * 4
        summary.add_row(label, *cells)
    console.print(summary)
    counts = {d: table["suggested_difficulty"].to_pylist().count(d) for d in schema.DIFFICULTIES}
    console.print("suggested difficulty: " + ", ".join(f"{d} {n}" for d, n in counts.items()), highlight=False)
    console.print(f"thresholds: {report.thresholds.describe()}", highlight=False)
    if agreement is not None:
        console.print(f"agreement with {agreement.n} human difficulties: quadratic-weighted kappa {agreement.kappa:.3f}, "
                      f"{agreement.exact:.0%} identical", highlight=False)
    for line in report.errors:
        console.print(f"error: {line}", style="red", highlight=False, soft_wrap=True)
    console.print(f"{table.num_rows} triplets in motion.parquet; histograms in {histograms}", highlight=False)


def confusion_table(agreement: Agreement, title: str) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("human \\ suggested")
    for difficulty in schema.DIFFICULTIES:
        table.add_column(difficulty, justify="right")
    for difficulty, row in zip(schema.DIFFICULTIES, agreement.confusion):
        table.add_row(difficulty, *(str(v) for v in row))
    return table


def print_calibration(console: Console, calibration: Calibration, saved_to) -> None:
    before, after = calibration.agreement_before, calibration.agreement_after
    console.print(f"calibrated on {after.n} human difficulties", highlight=False)
    console.print(f"  before: {calibration.before.describe()}: kappa {before.kappa:.3f}, {before.exact:.0%} identical", highlight=False)
    console.print(f"  after:  {calibration.after.describe()}: kappa {after.kappa:.3f}, {after.exact:.0%} identical", highlight=False)
    console.print(confusion_table(after, "agreement after calibration"))
    console.print(f"thresholds saved to {saved_to}; motion.parquet's suggestions updated", highlight=False)


def print_split(console: Console, sides: list[SideSummary], settings: SplitSettings) -> None:
    grouping = "sources" if settings.by == "source" else "series"
    table = Table(title=f"split by {settings.by} (test fraction {settings.test_fraction:g}, seed {settings.seed})", title_justify="left")
    for column in ("side", "triplets", "share", grouping, *schema.DIFFICULTIES, "unlabelled"):
        table.add_column(column, justify="left" if column in ("side", grouping) else "right")
    for side in sides:
        table.add_row(side.side, str(side.triplets), f"{side.share:.1%}", _names(side.groups),
                      *(str(side.difficulties.get(d, 0)) for d in (*schema.DIFFICULTIES, "unlabelled")))
    console.print(table)
    tags = [t for t in (*schema.GENERAL_MOTIONS, *schema.BEHAVIORS) if any(side.tags.get(t) for side in sides)]
    if tags:
        tag_table = Table(title="motion tags per side (human labels)", title_justify="left")
        tag_table.add_column("tag")
        for side in sides:
            tag_table.add_column(side.side, justify="right")
        for tag in tags:
            tag_table.add_row(tag, *(str(side.tags.get(tag, 0)) for side in sides))
        console.print(tag_table)
    else:
        console.print("no motion tags yet (labels.parquet absent or without tags)", highlight=False)


def _names(names: list[str], shown: int = 4) -> str:
    return ", ".join(names[:shown]) + (f" and {len(names) - shown} more" if len(names) > shown else "")
