"""Pre-screening for annotators: what an in-band candidate's frames show that is rarely a fit for the dataset.

Computed during the scan from the analysis luma already decoded (float32, about 320x180), for the
candidates inside the SSIM band only, and kept with them in the cache (``candidates.parquet``), so that
``--refilter`` keeps them; kept triplets carry them in ``triplets.parquet`` (``flags``), and the
annotation app shows them (a ``fade`` pre-fills "not eligible: scene transition").

- ``fade``: a fade or a cross-dissolve. Where frame1 and frame3 differ (by more than CHANGED grey
  levels), a dissolve puts frame2 part-way between them, q = (f2 - f1) / (f3 - f1) in (0.15, 0.85), at
  nearly every such pixel, while motion puts it at one end or the other (the moving thing is where it
  was, or where it will be). Flagged when at least DISSOLVED of the changed pixels are in between. On the
  shared clips: 1.0, 0.81 and 0.81 for the three dissolves there are; at most 0.51 for every other kept
  triplet.
- ``flash``: frame2's mean luma at least FLASH grey levels above both neighbours', or below both.
- ``text_card``: a title or text card: a flat frame (one 8-level luma bin holds at least FLAT of frame2's
  pixels) with writing on it (at least LETTERS small edge components, 4-60 pixels, per 320x180 of
  frame2's Canny edges). On the shared clips: flatness 0.53-0.76 and 55-211 letters for the title and
  warning cards of *Copying Is Not Theft*; every other kept triplet is less flat than 0.34, and the
  generated cartoons, as flat as 0.8, show at most one letter.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np

FLAGS = {  # what each flag means, as the annotation app says it
    "fade": "a fade or a dissolve (pre-filled as not eligible: scene transition)",
    "flash": "a flash: frame 2 much brighter or darker than both neighbours",
    "text_card": "a title or text card",
}
CHANGED = 20.0
DISSOLVED = 0.7
FLASH = 20.0
FLAT = 0.5
LETTERS = 40


class FrameFacts:
    """What the flags need of one frame, computed once per frame (on a scan worker); whether it is a
    text card only when asked (a flat frame in the middle of an in-band candidate)."""

    def __init__(self, luma: np.ndarray):
        """``luma``: the analysis luma (uint8, or float in 0-255). The fade, flash and flatness statistics
        are shares and means: every other pixel of every other row estimates them."""
        self.luma = luma
        self.small = np.ascontiguousarray(luma[::2, ::2], dtype=np.float32)
        self.mean = float(self.small.mean())
        self.flat = (
            np.bincount((np.clip(self.small, 0, 255).astype(np.uint8) >> 3).ravel(), minlength=32).max()
            >= FLAT * self.small.size
        )

    @functools.cached_property
    def text_card(self) -> bool:
        """Flat, with letters on it."""
        return bool(self.flat) and has_letters(np.clip(self.luma, 0, 255).astype(np.uint8))


def flags(first: FrameFacts, middle: FrameFacts, last: FrameFacts) -> list[str]:
    """The FLAGS a triplet raises, in FLAGS order."""
    found = []
    change = last.small - first.small
    changed = np.abs(change) > CHANGED
    if changed.any():
        between = (middle.small - first.small)[changed] / change[changed]
        if np.count_nonzero((between > 0.15) & (between < 0.85)) >= DISSOLVED * between.size:
            found.append("fade")
    if middle.mean - max(first.mean, last.mean) >= FLASH or min(first.mean, last.mean) - middle.mean >= FLASH:
        found.append("flash")
    if middle.text_card:
        found.append("text_card")
    return found


def has_letters(luma: np.ndarray) -> bool:
    """At least LETTERS letter-sized (4-60 px) components of Canny edges per 320x180 of ``luma`` (uint8)."""
    # 16-bit labels (three times faster) hold every component of an image of up to 4 * 65535 pixels
    labels = cv2.CV_16U if luma.size < 4 * 65535 else cv2.CV_32S
    _, _, stats, _ = cv2.connectedComponentsWithStats(cv2.Canny(luma, 50, 150), connectivity=8, ltype=labels)
    areas = stats[1:, cv2.CC_STAT_AREA]
    return np.count_nonzero((areas >= 4) & (areas <= 60)) >= LETTERS * luma.size / (320 * 180)
