"""Colour-piece matching (section 4.1, eqs. 1-5).

Each piece is described by its VGG features mean-pooled over its pixels at four scales (the
label map subsampled with ``[1::2, 1::2]`` per scale, super-pixel pooling); the vector is
shifted to a minimum of 0 and normalised to sum 1. The affinity of two pieces is the sum of
the element-wise minima of their vectors (eq. 1), penalised for far-apart centroids (eq. 2)
and different sizes (eq. 3) into the matching degree C (eq. 4). Pieces match when each is
the other's best (eq. 5, mutual consistency).

Penalties follow the official code by default (``rules="code"``): the distance penalty
0.2 * d / diagonal beyond 14% of the diagonal, and a size penalty 0.05 * r only where the
area ratio r = max(a/b, b/a) exceeds 3. ``rules="paper"`` applies the paper's
eqs. 2-3 instead (beyond 15% of the diagonal; 0.05 * |a - b| / HW).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

LAMBDA_DIST, LAMBDA_SIZE = 0.2, 0.05
RULES = ("code", "paper")
NEAR_BEST = 1e-5  # affinities this close to a row's or column's best are recomputed exactly


@dataclass(frozen=True)
class Pieces:
    """A frame's colour pieces: label map (H, W) 0..K-1, pixel counts and centroids (K,)."""

    labels: np.ndarray
    counts: np.ndarray
    centre_x: np.ndarray
    centre_y: np.ndarray

    @classmethod
    def of(cls, labels: np.ndarray) -> Pieces:
        count = int(labels.max()) + 1
        flat = labels.reshape(-1)
        counts = np.bincount(flat, minlength=count)
        height, width = labels.shape
        xs = np.tile(np.arange(width, dtype=np.float64), height)
        ys = np.repeat(np.arange(height, dtype=np.float64), width)
        return cls(labels, counts, np.bincount(flat, xs, count) / counts, np.bincount(flat, ys, count) / counts)


def pooled_features(features: list[torch.Tensor], labels: np.ndarray) -> torch.Tensor:
    """(K, N) piece descriptors from one frame's feature maps (1, C, h, w): per scale, the mean
    feature over each piece's pixels in the label map subsampled to that scale (super-pixel
    pooling; 0 for a piece absent there), concatenated; each row shifted to a minimum of 0 and
    normalised to sum 1."""
    count = int(labels.max()) + 1
    level_labels = labels
    pooled = []
    for level, feature in enumerate(features):
        if level:
            level_labels = level_labels[1::2, 1::2]
        index = torch.from_numpy(np.ascontiguousarray(level_labels).reshape(-1).astype(np.int64)).to(feature.device)
        values = feature[0].permute(1, 2, 0).reshape(-1, feature.shape[1])  # (pixels, C): a view when channels-last
        if values.shape[0] != index.shape[0]:
            raise ValueError(f"feature map {tuple(feature.shape[-2:])} does not match label map {level_labels.shape}")
        sums = values.new_zeros(count, values.shape[1]).index_add_(0, index, values)
        pixels = torch.bincount(index, minlength=count).clamp(min=1).to(values.dtype)
        pooled.append(sums / pixels[:, None])
    descriptors = torch.cat(pooled, dim=1)
    descriptors = descriptors - descriptors.min(dim=1, keepdim=True).values
    return descriptors / descriptors.sum(dim=1, keepdim=True)


def penalties(pieces0: Pieces, pieces1: Pieces, rules: str) -> tuple[np.ndarray, np.ndarray]:
    """Size and distance penalties (K0, K1), already weighted (eqs. 2-3 and the lambdas of eq. 4)."""
    if rules not in RULES:
        raise ValueError(f"unknown matching rules {rules!r}; expected one of {', '.join(RULES)}")
    height, width = pieces0.labels.shape
    distance = np.hypot(
        pieces0.centre_x[:, None] - pieces1.centre_x[None], pieces0.centre_y[:, None] - pieces1.centre_y[None]
    )
    distance /= np.linalg.norm([height, width])  # eq. 2
    counts0, counts1 = pieces0.counts[:, None].astype(np.float64), pieces1.counts[None].astype(np.float64)
    if rules == "code":
        ratio = np.maximum(counts0 / counts1, counts1 / counts0)
        return np.where(ratio > 3, ratio / 20, 0.0), np.where(distance > 0.14, distance / 5, 0.0)
    return LAMBDA_SIZE * np.abs(counts0 - counts1) / (height * width), np.where(
        distance > 0.15, LAMBDA_DIST * distance, 0.0
    )


def matching_degree(descriptors0, descriptors1, pieces0: Pieces, pieces1: Pieces, rules: str = "code") -> torch.Tensor:
    """Eq. 4: C = A - lambda_dist L_dist - lambda_size L_size, (K0, K1) float32.

    The affinity of all pairs comes from L1 distances (for vectors summing to 1,
    sum min(a, b) = 1 - |a - b|_1 / 2, one fast ``cdist``); the entries that can be a row's or a
    column's best (within 1e-5 of it) are then recomputed as the official sum of minima, so
    the matches are exactly the official ones.
    """
    size_penalty, distance_penalty = (
        torch.from_numpy(p.astype(np.float32)) for p in penalties(pieces0, pieces1, rules)
    )
    total0, total1 = descriptors0.sum(dim=1), descriptors1.sum(dim=1)
    shared = (total0[:, None] + total1[None] - torch.cdist(descriptors0[None], descriptors1[None], p=1)[0]) / 2
    degree = shared.cpu() - size_penalty - distance_penalty
    near = (degree >= degree.max(dim=1, keepdim=True).values - NEAR_BEST) | (
        degree >= degree.max(dim=0, keepdim=True).values - NEAR_BEST
    )
    rows, columns = near.nonzero(as_tuple=True)
    exact = (
        torch.minimum(descriptors0[rows.to(descriptors0.device)], descriptors1[columns.to(descriptors1.device)])
        .sum(dim=1)
        .cpu()
    )
    # subtracted one after the other in float32, as the official loop did
    degree[rows, columns] = exact - size_penalty[rows, columns] - distance_penalty[rows, columns]
    return degree


def mutual_matching(degree: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Eq. 5 with mutual consistency: for each piece of frame 0 (1) its match in frame 1 (0) and
    a rank sum that is 0 exactly when the two are each other's best (the official formulation:
    the sum of j's rank in i's row and i's rank in j's column, minimised)."""
    row_rank = degree.sort(dim=1, descending=True).indices.argsort(dim=1)
    column_rank = degree.sort(dim=0, descending=True).indices.argsort(dim=0)
    ranks = row_rank + column_rank
    rank_sum01, match01 = ranks.min(dim=1)
    rank_sum10, match10 = ranks.min(dim=0)
    return match01, rank_sum01, match10, rank_sum10
