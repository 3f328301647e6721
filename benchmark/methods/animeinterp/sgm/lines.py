"""Line extraction for colour-piece segmentation (Zhang et al.'s line filler, as SGM uses it).

A bilateral filter flattens the colour areas, a 5x5 Laplacian responds on the dark side of
the outlines, and a hysteresis threshold keeps the strong responses and what connects to
them. The result is a binary map: 255 where a colour piece may grow, 0 on lines.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components


@dataclass(frozen=True)
class LineStyle:
    """Parameters the official scripts chose from the triplet's folder name."""

    low: float  # hysteresis thresholds on the Laplacian scaled to 0..255
    high: float
    diameter: int  # bilateral filter
    sigma_color: float
    sigma_space: float


STYLES = {
    "japan": LineStyle(low=2, high=20, diameter=10, sigma_color=10, sigma_space=10),
    "western": LineStyle(low=1, high=20, diameter=30, sigma_color=40, sigma_space=30),  # "Disney" folders
}


def style_for(name: str) -> str:
    """The style the official scripts chose for a triplet folder name: "western" for Disney's, else "japan"."""
    return "western" if "disney" in name.lower() else "japan"


LINE_GAIN = 20  # the kept Laplacian is amplified this much before it darkens the line map
LINE_THRESHOLD = 220  # line-map values above this are fillable


def style_of(name: str) -> LineStyle:
    if name not in STYLES:
        raise ValueError(f"unknown line style {name!r}; expected one of {', '.join(STYLES)}")
    return STYLES[name]


def hysteresis(stack: np.ndarray, low: float, high: float) -> np.ndarray:
    """Where ``stack`` (H, W, C) is above ``low`` and face-connected (4 neighbours in a channel,
    the same pixel in the next channel) to a value above ``high``: scikit-image's
    ``apply_hysteresis_threshold`` (:func:`kept_planes`)."""
    return np.stack(kept_planes([stack[..., channel] for channel in range(stack.shape[2])], low, high), axis=2)


def kept_planes(planes: list[np.ndarray], low: float, high: float) -> list[np.ndarray]:
    """:func:`hysteresis` of a stack given as its channels (H, W each): a bool map per channel,
    from 2-D components per channel joined across neighbouring channels."""
    weak = [plane > low for plane in planes]
    components, first, count = [], [], 1  # label 0: not weak; channel c's components are first[c] + 1, 2, ...
    for channel in weak:
        found, labels = cv2.connectedComponents(channel.view(np.uint8), connectivity=4, ltype=cv2.CV_32S)
        components.append(labels)
        first.append(count - 1)
        count += found - 1
    first.append(count - 1)
    rows, columns = [np.zeros(0, np.int32)], [np.zeros(0, np.int32)]
    for channel in range(len(planes) - 1):
        both = weak[channel] & weak[channel + 1]  # the same pixel weak in neighbouring channels joins them
        rows.append(components[channel][both] + first[channel])
        columns.append(components[channel + 1][both] + first[channel + 1])
    rows, columns = np.concatenate(rows), np.concatenate(columns)
    edges = coo_matrix((np.ones(len(rows), np.int32), (rows, columns)), shape=(count, count))
    _, joined = connected_components(edges, directed=False)
    strong = np.zeros(joined.max() + 1, bool)
    for plane, labels, offset in zip(planes, components, first):
        strong[joined[labels[plane > high] + offset]] = True
    kept = strong[joined]
    return [
        np.append(False, kept[start + 1 : stop + 1])[labels]
        for labels, start, stop in zip(components, first, first[1:])
    ]


def line_map(frame: np.ndarray, style: LineStyle) -> np.ndarray:
    """Grey-level line drawing of ``frame`` (H, W, 3 uint8): 255 on flat areas, darker on outlines."""
    smooth = cv2.bilateralFilter(frame, style.diameter, style.sigma_color, style.sigma_space)
    planes = [cv2.Laplacian(channel, ddepth=cv2.CV_32F, ksize=5) for channel in cv2.split(smooth)]
    peak = max(float(plane.max()) for plane in planes)
    if peak <= 0:  # a flat frame: no outlines
        return np.full(frame.shape[:2], 255, np.uint8)
    for plane in planes:
        plane *= np.float32(255.0 / peak)
    # the hysteresis runs on the (H, W, 3) stack: a response connects through neighbouring channels too
    strongest = np.zeros(frame.shape[:2], np.float32)  # the largest kept response of the three channels
    for plane, kept in zip(planes, kept_planes(planes, style.low, style.high)):
        np.maximum(strongest, np.where(kept, plane, np.float32(0)), out=strongest)
    darkness = strongest * np.float32(LINE_GAIN)  # the same as the largest amplified response: rounding is monotonic
    return np.clip(255 - darkness, 0, 255).astype(np.uint8)


def fillable(frame: np.ndarray, style: LineStyle) -> np.ndarray:
    """Binary map (uint8): 255 where colour pieces grow, 0 on the lines."""
    return np.where(line_map(frame, style) > LINE_THRESHOLD, 255, 0).astype(np.uint8)
