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
    ``apply_hysteresis_threshold``, from 2-D components per channel joined across channels."""
    weak = stack > low
    labels = np.zeros(stack.shape, np.int32)
    count = 1  # label 0: not weak
    for channel in range(stack.shape[2]):
        found, components = cv2.connectedComponents(
            weak[..., channel].astype(np.uint8), connectivity=4, ltype=cv2.CV_32S
        )
        labels[..., channel] = np.where(components > 0, components + (count - 1), 0)
        count += found - 1
    across = weak[..., 1:] & weak[..., :-1]
    pairs = np.unique(
        labels[..., 1:][across].astype(np.int64) * count + labels[..., :-1][across]
    )  # each joined pair once
    edges = coo_matrix((np.ones(len(pairs), np.int8), (pairs // count, pairs % count)), shape=(count, count))
    _, joined = connected_components(edges, directed=False)
    strong = np.zeros(joined.max() + 1, bool)
    strong[joined[labels[stack > high]]] = True
    return strong[joined[labels]] & weak


def line_map(frame: np.ndarray, style: LineStyle) -> np.ndarray:
    """Grey-level line drawing of ``frame`` (H, W, 3 uint8): 255 on flat areas, darker on outlines."""
    smooth = cv2.bilateralFilter(frame, style.diameter, style.sigma_color, style.sigma_space)
    response = cv2.Laplacian(smooth, ddepth=cv2.CV_32F, ksize=5)
    peak = float(response.max())
    if peak <= 0:  # a flat frame: no outlines
        return np.full(frame.shape[:2], 255, np.uint8)
    response = response * np.float32(255.0 / peak)
    # the hysteresis runs on the (H, W, 3) stack: a response connects through neighbouring channels too
    response[~hysteresis(response, style.low, style.high)] = 0
    darkness = np.max(response * LINE_GAIN, axis=2)
    return np.clip(255 - darkness, 0, 255).astype(np.uint8)


def fillable(frame: np.ndarray, style: LineStyle) -> np.ndarray:
    """Binary map (uint8): 255 where colour pieces grow, 0 on the lines."""
    return np.where(line_map(frame, style) > LINE_THRESHOLD, 255, 0).astype(np.uint8)
