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
    warped = normalise(
        splat_sum(
            torch.cat([torch.from_numpy(mask0.astype(np.float32))[None, None], torch.ones(1, 1, *mask0.shape)], 1),
            torch.from_numpy(flow.transpose(2, 0, 1).copy())[None],
        )
    )[0, 0].numpy()
    landed = warped >= LANDED
    total = np.count_nonzero(landed)
    return np.count_nonzero(landed & mask1) / total if total else 0.0


def guide_flow(
    grey0: np.ndarray, grey1: np.ndarray, pieces0: Pieces, pieces1: Pieces, match: np.ndarray, rank_sum: np.ndarray
) -> np.ndarray:
    """Flow (2, H, W) float64 from frame 0 to frame 1 given each frame-0 piece's ``match`` and ``rank_sum``."""
    height, width = pieces0.labels.shape
    flow = np.zeros((2, height, width))
    boxes0, boxes1 = ndimage.find_objects(pieces0.labels + 1), ndimage.find_objects(pieces1.labels + 1)
    dis = dis_flow()
    for piece, (other, ranks) in enumerate(zip(match.tolist(), rank_sum.tolist())):
        area, other_area = int(pieces0.counts[piece]), int(pieces1.counts[other])
        motion = np.hypot(
            pieces1.centre_x[other] - pieces0.centre_x[piece], pieces1.centre_y[other] - pieces0.centre_y[piece]
        )
        if not (
            ranks <= 0
            and motion <= MAX_MOTION
            and MIN_PIXELS < area < MAX_SHARE * height * width
            and max(area / other_area, other_area / area) < MAX_AREA_RATIO
        ):
            continue
        patch0 = Patch.cut(grey0, pieces0.labels, boxes0[piece], piece)
        patch1 = Patch.cut(grey1, pieces1.labels, boxes1[other], other)
        canvas_h = max(patch0.mask.shape[0], patch1.mask.shape[0], PATCH_MIN) + PATCH_MARGIN
        canvas_w = max(patch0.mask.shape[1], patch1.mask.shape[1], PATCH_MIN) + PATCH_MARGIN
        grey_a, mask_a, (top, left) = patch0.on_canvas(canvas_h, canvas_w)
        grey_b, mask_b, _ = patch1.on_canvas(canvas_h, canvas_w)
        deformation = dis.calc(grey_a, grey_b, None)
        if not landing_overlap(mask_a, mask_b, deformation) > MIN_OVERLAP:
            continue
        (x0, y0), (x1, y1) = patch0.centre2(), patch1.centre2()
        ys, xs = np.nonzero(patch0.mask)
        local = deformation[ys + top, xs + left]
        ys, xs = ys + patch0.box[0].start, xs + patch0.box[1].start
        flow[0, ys, xs] = (x1 - x0) / 2 + local[:, 0]
        flow[1, ys, xs] = (y1 - y0) / 2 + local[:, 1]
    return flow
