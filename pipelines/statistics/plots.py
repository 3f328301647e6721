"""Figures of the dataset statistics, rendered by matplotlib (no display needed) to PNG bytes.

Histograms are normalised like the paper's Fig. 3b: each bar is the share of a dataset's
triplets in that bin, so datasets of different sizes overlay on one scale.
"""

from __future__ import annotations

import io

import numpy as np
import pyarrow as pa
from matplotlib.figure import Figure

BINS = 30
COLOURS = ("#d1495b", "#2e86ab", "#66a182", "#edae49")


def png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return buffer.getvalue()


def normalised_histograms(panels: list[tuple[str, dict[str, np.ndarray]]], title: str | None = None) -> bytes:
    """One panel per (x-axis label, {dataset name: values}); the datasets overlaid, bins shared."""
    figure = Figure(figsize=(4.2 * len(panels), 3.4))
    axes = figure.subplots(1, len(panels), squeeze=False)[0]
    for ax, (label, series) in zip(axes, panels):
        present = {name: np.asarray(v, float)[np.isfinite(v)] for name, v in series.items()}
        present = {name: v for name, v in present.items() if len(v)}
        if not present:
            ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)
        else:
            everything = np.concatenate(list(present.values()))
            low, high = float(everything.min()), float(everything.max())
            edges = np.linspace(low, high if high > low else low + 1, BINS + 1)
            for colour, (name, values) in zip(COLOURS, present.items()):
                weights = np.full(len(values), 1 / len(values))
                ax.hist(values, bins=edges, weights=weights, color=colour, alpha=0.55, label=f"{name} ({len(values)})")
                ax.hist(values, bins=edges, weights=weights, color=colour, histtype="step", linewidth=1.2)
            ax.legend(fontsize=8, frameon=False)
        ax.set_xlabel(label)
        ax.set_ylabel("share of triplets")
        ax.spines[["top", "right"]].set_visible(False)
    if title:
        figure.suptitle(title)
    return png(figure)


def motion_histograms(datasets: dict[str, pa.Table]) -> bytes:
    """Fig. 3b for MOTION tables ({dataset name: table}): flow mean, flow std, occlusion."""
    columns = (
        ("flow_mean", "mean displacement (px)"),
        ("flow_std", "std of displacement (px)"),
        ("occlusion_ratio", "occluded share of pixels"),
    )
    return normalised_histograms([(label, {n: t[c].to_numpy() for n, t in datasets.items()}) for c, label in columns])


def ssim_histograms(triplets: pa.Table) -> bytes:
    """Pair SSIMs of a TRIPLETS table, one panel per pair."""
    pairs = (("ssim_12", "SSIM frame1-frame2"), ("ssim_23", "SSIM frame2-frame3"), ("ssim_13", "SSIM frame1-frame3"))
    return normalised_histograms(
        [(label, {"triplets": triplets[c].to_numpy(zero_copy_only=False)}) for c, label in pairs]
    )
