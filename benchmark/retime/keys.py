"""Which frames start a new drawing and which start a new shot: extraction's test, frame by frame.

Each decoded frame's luma is fitted into the analysis box of extraction and compared by its pair
SSIM (:mod:`atdkit.ssim`), with extraction's band (paper, section 3.1: 0.75-0.95):

- SSIM with the previous frame below the band's lower bound, and the two frames' compositions differ
  (extraction's cut test, :func:`atdkit.pipelines.extraction.timing.is_cut`, on their thumbnails): a
  scene cut (a new shot);
- bit-identical luma to the previous frame, or SSIM with the current drawing's first frame
  above the band's upper bound: the drawing held;
- otherwise a new drawing of the same shot (a fast action's drawings can differ as much as a cut in
  SSIM, not in composition).

Comparing with the drawing's first frame, not the previous frame, keeps a slow pan from being
taken for one drawing held for ever.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from atdkit.pipelines.extraction.scan import ANALYSIS_BOX
from atdkit.pipelines.extraction.selection import Band, thumbnail
from atdkit.pipelines.extraction.timing import is_cut
from atdkit.sizes import fit_into
from atdkit.ssim import MIN_SIDE, LumaStats, PairSSIM
from atdkit.video import VideoError

CUT, DRAWING, HELD = "cut", "drawing", "held"


@dataclass
class _Seen:
    luma: np.ndarray
    analysed: np.ndarray | None = None  # the luma fitted into the analysis box
    stats: LumaStats | None = None


class DrawingFinder:
    """Call with each frame's full-size luma, in order; says ``CUT``, ``DRAWING`` or ``HELD`` (the first frame:
    ``CUT``, the start of the first shot)."""

    def __init__(self, width: int, height: int, band: Band | None = None):
        self.band = band or Band()
        self.size = fit_into(width, height, ANALYSIS_BOX)
        if min(self.size) < MIN_SIDE:
            raise VideoError(f"frames are {width}x{height}, smaller than the {MIN_SIDE}x{MIN_SIDE} SSIM window")
        self.pair_ssim = PairSSIM(self.size[1], self.size[0])
        self.previous: _Seen | None = None
        self.drawing: _Seen | None = None

    def _analysed(self, seen: _Seen) -> np.ndarray:
        if seen.analysed is None:
            luma = seen.luma
            if (luma.shape[1], luma.shape[0]) != self.size:
                luma = cv2.resize(luma, self.size, interpolation=cv2.INTER_AREA)
            seen.analysed = luma
        return seen.analysed

    def _stats(self, seen: _Seen) -> LumaStats:
        if seen.stats is None:
            seen.stats = LumaStats.of(self._analysed(seen))
        return seen.stats

    def __call__(self, luma: np.ndarray) -> str:
        seen, previous = _Seen(np.array(luma)), self.previous
        self.previous = seen
        if previous is None:
            self.drawing = seen
            return CUT
        if np.array_equal(seen.luma, previous.luma):
            return HELD
        with_previous = self.pair_ssim(self._stats(previous), self._stats(seen))
        if with_previous < self.band.low:
            self.drawing = seen
            cut = is_cut(thumbnail(self._analysed(previous)), thumbnail(self._analysed(seen)))
            return CUT if cut else DRAWING
        with_drawing = (
            with_previous if self.drawing is previous else self.pair_ssim(self._stats(self.drawing), self._stats(seen))
        )
        if with_drawing > self.band.high:
            return HELD
        self.drawing = seen
        return DRAWING
