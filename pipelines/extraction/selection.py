"""Which candidate triplets are kept: the SSIM band (paper, section 3.1) and the redundancy policy.

A candidate is (start, interval): frames (i, i+s, i+2s) with stride s = interval + 1.

Band: all three pair SSIMs must lie in [low, high]. Pairs are checked in the order 1-2,
2-3, 1-3, and the first pair out of band names the rejection (``too_similar`` above the
band: held drawings; ``too_different`` below it: scene cuts); later pairs are not needed.

Redundancy: neighbouring candidates of one shot are near copies. Walking a film's
in-band candidates in order of start frame (then interval), one is ``redundant`` when it
starts fewer than ``min_gap`` frames after the last kept triplet, or when its middle frame
differs from the last kept middle frame by less than ``min_change`` (mean absolute luma
difference, 0-255, on THUMBNAIL_SIZE thumbnails), e.g. a long held shot with a blinking eye.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

THUMBNAIL_SIZE = (32, 18)  # (width, height)


@dataclass(frozen=True)
class Band:
    low: float = 0.75
    high: float = 0.95

    def __post_init__(self):
        if not 0.0 <= self.low <= self.high <= 1.0:
            raise ValueError(f"SSIM band needs 0 <= low <= high <= 1, got [{self.low}, {self.high}]")

    def verdict(self, value: float) -> str | None:
        """None when ``value`` is in band, else the rejection reason."""
        if value > self.high:
            return "too_similar"
        if value < self.low:
            return "too_different"
        return None

    def contains(self, other: Band) -> bool:
        return self.low <= other.low and other.high <= self.high


@dataclass(frozen=True)
class RedundancyPolicy:
    min_gap: int = 12  # frames between the start frames of two kept triplets of one film
    min_change: float = 2.0  # mean absolute thumbnail difference of the middle frames

    def __post_init__(self):
        if self.min_gap < 0 or self.min_change < 0:
            raise ValueError("min_gap and min_change must be >= 0")


def thumbnail(luma: np.ndarray) -> np.ndarray:
    return cv2.resize(luma, THUMBNAIL_SIZE, interpolation=cv2.INTER_AREA)


def thumbnail_change(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean(np.abs(a.astype(np.int16) - b.astype(np.int16))))


class RedundancyFilter:
    """Feed a film's in-band candidates in (start, interval) order; says which to keep."""

    def __init__(self, policy: RedundancyPolicy):
        self.policy = policy
        self._last_start: int | None = None
        self._last_middle: np.ndarray | None = None

    def keep(self, start: int, middle_thumbnail: np.ndarray) -> bool:
        if self._last_start is not None:
            if start - self._last_start < self.policy.min_gap:
                return False
            if thumbnail_change(middle_thumbnail, self._last_middle) < self.policy.min_change:
                return False
        self._last_start, self._last_middle = start, middle_thumbnail
        return True
