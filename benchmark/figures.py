"""The figures of a benchmark run, under its first profile: PSNR per level, PSNR per triplet, PSNR and
LPIPS against the triplets' motion, and each method's worst triplets.

```
psnr_by_level.png        mean PSNR of each Table 1 group, one bar per method
psnr_distribution.png    per-triplet PSNR per method
by_motion.png            mean PSNR (and LPIPS when scored) per bin of motion magnitude, one line per method
worst_<method>.png       the 10 worst triplets: inputs, prediction, truth, error map
```
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from atdkit.benchmark.summary import GROUP_TITLES, GROUPS, MOTION_BINS
from atdkit.images import write_image
from atdkit.store import atomic_path

SHEET_WIDTH = 320  # px of each contact-sheet panel


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(figure, path: Path) -> None:
    with atomic_path(path) as tmp:
        figure.savefig(tmp, dpi=100, bbox_inches="tight")


def plot_levels(summary: list[dict], path: Path) -> None:
    """Grouped bars: mean PSNR of each Table 1 group (with data), one bar per method (``summary``: one profile's)."""
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
    """Per-triplet PSNR per method (violins), exact predictions counted in the labels (one profile's rows)."""
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


def plot_motion(summary: list[dict], path: Path) -> None:
    """Mean PSNR, and LPIPS when scored, per bin of motion magnitude, one line per method (one profile's summary)."""
    plt = _pyplot()
    labels = [label for label, _, _ in MOTION_BINS]
    panels = [("psnr", "mean PSNR (dB)")] + (
        [("lpips", "mean LPIPS (AlexNet)")] if any(s["groups"]["whole"]["lpips"] is not None for s in summary) else []
    )
    figure, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4), squeeze=False)
    for ax, (metric, title) in zip(axes[0], panels):
        for s in summary:
            values = [(s["breakdowns"].get(("motion", label)) or {}).get(metric) for label in labels]
            ax.plot(labels, [np.nan if v is None else v for v in values], marker="o", label=s["method"])
        ax.set_xlabel("motion: flow mean, % of the frame diagonal")
        ax.set_ylabel(title)
        ax.legend(fontsize=8)
    figure.suptitle("scores against the triplets' motion")
    _save(figure, path)
    plt.close(figure)


def write_plots(root: Path, frame: pd.DataFrame, summary: list[dict], profile: str) -> None:
    """The run's figures under ``profile``."""
    mine = [s for s in summary if s["profile"] == profile]
    plot_levels(mine, root / "psnr_by_level.png")
    plot_distribution(frame[frame["profile"] == profile], [s["method"] for s in mine], root / "psnr_distribution.png")
    plot_motion(mine, root / "by_motion.png")
