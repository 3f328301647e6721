"""Flow generation (section 4.1, eq. 6): a dense flow from matched colour pieces.

For each piece of the first frame matched to a piece of the second: the shift between the
pieces' bounding-box centres plus a local deformation, OpenCV's DIS optical flow between the
two masked grey patches (the variational refinement of eq. 6), centred on a common canvas.
A piece's flow stays zero when it is not mutually matched, has 50 pixels or fewer, covers
12% of the image or more, differs in area from its match by a factor of 3 or more, moves more
than 250 px (between centroids), or when its mask, forward-warped by the patch flow, lands
on the matched piece for 80% or less of where it lands.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import cv2
import numpy as np
import torch
from scipy import ndimage

from atdkit.benchmark.methods.animeinterp.sgm.matching import Pieces
from atdkit.benchmark.ops.splatting import normalise, splat_sum

MIN_PIXELS = 50
MAX_SHARE = 0.12
MAX_AREA_RATIO = 3
MAX_MOTION = 250
MIN_OVERLAP = 0.8
LANDED = 0.05  # warped-mask values below this count as not landed
DARK_MEAN, LIFT = 20, 200  # dark patches are lifted towards 200 so DIS sees texture
PATCH_MIN, PATCH_MARGIN = 16, 10  # canvas: at least 16 px, plus a black border DIS needs


def dis_flow() -> cv2.DISOpticalFlow:
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    dis.setVariationalRefinementIterations(25)
    dis.setFinestScale(0)
    dis.setGradientDescentIterations(50)
    return dis


@dataclass(frozen=True)
class Patch:
    """A piece cut out of its frame: bounding box (slices), mask and masked grey values."""

    box: tuple[slice, slice]
    mask: np.ndarray
    grey: np.ndarray

    @classmethod
    def cut(cls, grey: np.ndarray, labels: np.ndarray, box: tuple[slice, slice], piece: int) -> Patch:
        mask = labels[box] == piece
        values = np.where(mask, grey[box], 0).astype(np.uint8)
        if np.mean(values[mask]) < DARK_MEAN:
            values[mask] = 0.8 * values[mask] + 0.2 * LIFT  # the official expression, truncated to uint8
        return cls(box, mask, values)

    def centre2(self) -> tuple[int, int]:
        """Twice the bounding-box centre (x, y), in pixels (integers)."""
        return self.box[1].start + self.box[1].stop - 1, self.box[0].start + self.box[0].stop - 1

    def on_canvas(self, height: int, width: int) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
        """Grey values and mask centred on a black (height, width) canvas, and the offset (top, left)."""
        top, left = (height - self.mask.shape[0]) // 2, (width - self.mask.shape[1]) // 2
        grey, mask = np.zeros((height, width), np.uint8), np.zeros((height, width), bool)
        grey[top : top + self.mask.shape[0], left : left + self.mask.shape[1]] = self.grey
        mask[top : top + self.mask.shape[0], left : left + self.mask.shape[1]] = self.mask
        return grey, mask, (top, left)


def landing_overlap(mask0: np.ndarray, mask1: np.ndarray, flow: np.ndarray) -> float:
    """Share of where ``mask0``, forward-warped by ``flow`` (average splatting), lands inside ``mask1``."""
    landed = landed_surely(mask0, flow)
    if landed is None:
        landed = landed_by_splatting(mask0, flow)
    total = np.count_nonzero(landed)
    return np.count_nonzero(landed & mask1) / total if total else 0.0


def landed_by_splatting(mask0: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Where ``mask0``, forward-warped by ``flow`` (H, W, 2) by average splatting in float32, reaches ``LANDED``."""
    warped = normalise(
        splat_sum(
            torch.cat([torch.from_numpy(mask0.astype(np.float32))[None, None], torch.ones(1, 1, *mask0.shape)], 1),
            torch.from_numpy(flow.transpose(2, 0, 1).copy())[None],
        )
    )[0, 0].numpy()
    return warped >= LANDED


def landed_surely(mask0: np.ndarray, flow: np.ndarray) -> np.ndarray | None:
    """:func:`landed_by_splatting` from the same float32 bilinear weights summed in float64: the same
    map wherever the float32 sums' rounding cannot move the average across ``LANDED``, else None."""
    height, width = mask0.shape
    step_x, step_y = np.floor(flow[..., 0]), np.floor(flow[..., 1])
    frac_x, frac_y = flow[..., 0] - step_x, flow[..., 1] - step_y
    x = np.arange(width) + step_x.astype(np.int64)
    y = np.arange(height)[:, None] + step_y.astype(np.int64)
    lands = (x >= -1) & (x < width) & (y >= -1) & (y < height)
    # targets in the frame padded by one pixel a side; sources that land nowhere add nothing
    top_left = (((y + 1) * (width + 2) + x + 1) * lands).reshape(-1)
    corners = [
        (top_left, (1 - frac_x) * (1 - frac_y)),
        (top_left + 1, frac_x * (1 - frac_y)),
        (top_left + width + 2, (1 - frac_x) * frac_y),
        (top_left + width + 3, frac_x * frac_y),
    ]
    targets = np.concatenate([target for target, _ in corners])
    weights = np.concatenate([(weight * lands).reshape(-1) for _, weight in corners])
    inside = np.tile(mask0.reshape(-1), 4)
    size = (height + 2) * (width + 2)
    total = np.bincount(targets, weights, size)
    share = np.bincount(targets[inside], weights[inside], size) / np.where(total > 0, total, 1)
    terms = np.bincount(targets, minlength=size)
    # float32 sums of n terms and their quotient are within (2n + 1) units of 2^-24 of these
    doubt = share * (2 * terms + 2) * 2.0**-23
    threshold = float(np.float32(LANDED))
    if np.any(np.abs(share - threshold) <= doubt):
        return None
    return (share >= threshold).reshape(height + 2, width + 2)[1:-1, 1:-1]


def reliable_pieces(pieces0: Pieces, pieces1: Pieces, match: np.ndarray, rank_sum: np.ndarray) -> np.ndarray:
    """The frame-0 pieces whose flow is computed: mutually matched, over 50 pixels but under 12% of
    the image, within a factor of 3 of their match's area, and moving 250 px or less."""
    height, width = pieces0.labels.shape
    area, other_area = pieces0.counts, pieces1.counts[match]
    motion = np.hypot(pieces1.centre_x[match] - pieces0.centre_x, pieces1.centre_y[match] - pieces0.centre_y)
    return np.flatnonzero(
        (rank_sum <= 0)
        & (motion <= MAX_MOTION)
        & (area > MIN_PIXELS)
        & (area < MAX_SHARE * height * width)
        & (np.maximum(area / other_area, other_area / area) < MAX_AREA_RATIO)
    )


def patch_pairs(
    grey0: np.ndarray, grey1: np.ndarray, pieces0: Pieces, pieces1: Pieces, match: np.ndarray, rank_sum: np.ndarray
) -> list[tuple[Patch, Patch]]:
    """The reliable frame-0 pieces and their matches, cut out of the grey frames."""
    boxes0, boxes1 = ndimage.find_objects(pieces0.labels + 1), ndimage.find_objects(pieces1.labels + 1)
    pieces = reliable_pieces(pieces0, pieces1, match, rank_sum)
    return [
        (
            Patch.cut(grey0, pieces0.labels, boxes0[piece], piece),
            Patch.cut(grey1, pieces1.labels, boxes1[other], other),
        )
        for piece, other in zip(pieces.tolist(), match[pieces].tolist())
    ]


def canvas_size(patch0: Patch, patch1: Patch) -> tuple[int, int]:
    """The black canvas both patches are centred on for DIS."""
    return (
        max(patch0.mask.shape[0], patch1.mask.shape[0], PATCH_MIN) + PATCH_MARGIN,
        max(patch0.mask.shape[1], patch1.mask.shape[1], PATCH_MIN) + PATCH_MARGIN,
    )


def piece_flow(patch0: Patch, patch1: Patch) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Eq. 6 for one piece: its pixels (ys, xs) in frame 0 and their flow (2, N) towards the matched
    piece ``patch1``, or None when its mask, warped by the DIS flow, does not land on the match."""
    grey_a, mask_a, (top, left) = patch0.on_canvas(*canvas_size(patch0, patch1))
    grey_b, mask_b, _ = patch1.on_canvas(*canvas_size(patch0, patch1))
    deformation = dis_flow().calc(grey_a, grey_b, None)
    if not landing_overlap(mask_a, mask_b, deformation) > MIN_OVERLAP:
        return None
    (x0, y0), (x1, y1) = patch0.centre2(), patch1.centre2()
    ys, xs = np.nonzero(patch0.mask)
    local = deformation[ys + top, xs + left]
    shift = np.stack([(x1 - x0) / 2 + local[:, 0], (y1 - y0) / 2 + local[:, 1]])
    return ys + patch0.box[0].start, xs + patch0.box[1].start, shift


def paint(shape: tuple[int, int], piece_flows: Iterable) -> np.ndarray:
    """A flow (2, H, W) float64, zero but where ``piece_flows`` (the results of :func:`piece_flow`) set it."""
    flow = np.zeros((2, *shape))
    for found in piece_flows:
        if found is not None:
            ys, xs, shift = found
            flow[:, ys, xs] = shift
    return flow
