"""Segment-guided matching (SGM, paper section 4.1): coarse flows between two cartoon frames
from matched colour pieces, the initial flows of AnimeInterp's refinement network.

    flow01, flow10, labels0, labels1 = compute_sgm(frame0, frame1, "vgg19-dcbb9e9d.pth")
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from atdkit.benchmark.methods.animeinterp.sgm.flow_generation import canvas_size, paint, patch_pairs, piece_flow
from atdkit.benchmark.methods.animeinterp.sgm.lines import STYLES
from atdkit.benchmark.methods.animeinterp.sgm.matching import Pieces, matching_degree, mutual_matching, pooled_features
from atdkit.benchmark.methods.animeinterp.sgm.segmentation import segment
from atdkit.benchmark.methods.animeinterp.sgm.vgg import VGGFeatures


def compute_sgm(
    frame0: np.ndarray,
    frame1: np.ndarray,
    vgg_weights: str | Path | VGGFeatures,
    style: str = "japan",
    rules: str = "code",
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """SGM flows between two RGB uint8 frames (H, W, 3).

    ``vgg_weights``: a torchvision-format VGG-19 file, or a :class:`VGGFeatures` already loaded
    (its layer choice, ``"code"`` or ``"paper"``, is then its own). ``style``: the line-extraction
    parameters, ``"japan"`` or ``"western"``. ``rules``: the matching penalties, ``"code"`` or
    ``"paper"``. Returns flow 0 -> 1 and flow 1 -> 0 (float32 (2, H, W), channel 0 = x, zero
    where no reliable match was found) and both frames' label maps (int32 (H, W), 0..K-1).
    """
    for name, frame in (("frame0", frame0), ("frame1", frame1)):
        if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            raise ValueError(f"{name} must be an RGB uint8 array (H, W, 3), got {frame.dtype} {frame.shape}")
    if frame0.shape != frame1.shape:
        raise ValueError(f"frames differ in size: {frame0.shape[:2]} and {frame1.shape[:2]}")
    if min(frame0.shape[:2]) < 8:
        raise ValueError(
            f"frames of {frame0.shape[1]}x{frame0.shape[0]} are too small for SGM (VGG features at 1/8: 8x8 at least)"
        )
    if style not in STYLES:
        raise ValueError(f"unknown line style {style!r}; expected one of {', '.join(STYLES)}")
    vgg = vgg_weights if isinstance(vgg_weights, VGGFeatures) else VGGFeatures.from_file(vgg_weights)
    with ThreadPoolExecutor(3) as pool:  # the VGG features are computed while both frames are segmented
        features = pool.submit(vgg, frame0, frame1)
        labels0, labels1 = pool.map(segment, (frame0, frame1), (style, style))
        features = features.result()
    flow01, flow10 = guide_flows(frame0, frame1, match_pieces(features, labels0, labels1, rules))
    return flow01, flow10, labels0, labels1


@dataclass(frozen=True)
class Matches:
    """Both frames' pieces and, for each piece, its match in the other frame with the rank sum (0: mutual)."""

    pieces0: Pieces
    pieces1: Pieces
    match01: np.ndarray
    rank_sum01: np.ndarray
    match10: np.ndarray
    rank_sum10: np.ndarray


def match_pieces(
    features: list[torch.Tensor], labels0: np.ndarray, labels1: np.ndarray, rules: str = "code"
) -> Matches:
    """Eqs. 1-5: the pieces of two label maps matched on their VGG features (``features``: both frames as one batch)."""
    with ThreadPoolExecutor(2) as pool:  # a frame each; index_add_ is also faster off the main thread
        (pieces0, descriptors0), (pieces1, descriptors1) = pool.map(
            lambda side, labels: (Pieces.of(labels), pooled_features([level[side] for level in features], labels)),
            (slice(0, 1), slice(1, 2)),
            (labels0, labels1),
        )
    degree = matching_degree(descriptors0, descriptors1, pieces0, pieces1, rules)
    return Matches(pieces0, pieces1, *(t.numpy() for t in mutual_matching(degree)))


def guide_flows(frame0: np.ndarray, frame1: np.ndarray, matches: Matches) -> tuple[np.ndarray, np.ndarray]:
    """Eq. 6 both ways: flow 0 -> 1 and flow 1 -> 0 (float32 (2, H, W)) from the matched pieces."""
    grey0, grey1 = (cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY) for frame in (frame0, frame1))
    pairs = (
        patch_pairs(grey0, grey1, matches.pieces0, matches.pieces1, matches.match01, matches.rank_sum01),
        patch_pairs(grey1, grey0, matches.pieces1, matches.pieces0, matches.match10, matches.rank_sum10),
    )
    tasks = sorted(
        ((side, k) for side in (0, 1) for k in range(len(pairs[side]))),
        key=lambda task: -np.prod(canvas_size(*pairs[task[0]][task[1]])),
    )
    with ThreadPoolExecutor(2) as pool:  # largest first, so that both threads finish together; DIS releases the GIL
        found = dict(zip(tasks, pool.map(lambda task: piece_flow(*pairs[task[0]][task[1]]), tasks)))
    flows = (paint(frame0.shape[:2], (found[side, k] for k in range(len(pairs[side])))) for side in (0, 1))
    return tuple(flow.astype(np.float32) for flow in flows)


__all__ = ["compute_sgm", "match_pieces", "guide_flows", "Matches", "VGGFeatures", "segment"]
