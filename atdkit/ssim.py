"""Gaussian SSIM on luma, split so that per-frame work is done once per frame.

The formula is the standard one (Wang et al. 2004) with a Gaussian window of
sigma 1.5 truncated at 3.5 sigma (an 11x11 window), population covariance and
a data range of 255: the same numbers as ``skimage.metrics.structural_similarity(
a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255)``,
including its crop of the 5-pixel border before averaging.

Extraction compares every frame with several neighbours, so each frame's local mean
and variance (:class:`LumaStats`) are computed once, and a :class:`PairSSIM` computes
only the cross term per pair, in preallocated buffers (no allocation per pair).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

SIGMA = 1.5
RADIUS = int(3.5 * SIGMA + 0.5)  # skimage's truncate=3.5 -> 11x11 window
MIN_SIDE = 2 * RADIUS + 1  # images smaller than the window have no SSIM
C1 = (0.01 * 255) ** 2
C2 = (0.03 * 255) ** 2
_KERNEL = cv2.getGaussianKernel(MIN_SIDE, SIGMA, cv2.CV_32F)


def _blur(image: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    return cv2.sepFilter2D(image, cv2.CV_32F, _KERNEL, _KERNEL, dst=out, borderType=cv2.BORDER_REFLECT)


def _interior(image: np.ndarray) -> np.ndarray:
    return image[RADIUS:-RADIUS, RADIUS:-RADIUS]


@dataclass(frozen=True)
class LumaStats:
    """One frame's luma and local Gaussian statistics: the per-frame half of SSIM."""

    luma: np.ndarray  # float32, full size
    mean: np.ndarray  # local mean (interior)
    mean_sq_c1: np.ndarray  # mean**2 + C1/2
    var_c2: np.ndarray  # local variance + C2/2

    @classmethod
    def of(cls, luma: np.ndarray) -> LumaStats:
        if min(luma.shape[:2]) < MIN_SIDE:
            raise ValueError(
                f"image {luma.shape[1]}x{luma.shape[0]} is smaller than the {MIN_SIDE}x{MIN_SIDE} SSIM window"
            )
        x = luma.astype(np.float32)
        mean = np.ascontiguousarray(_interior(_blur(x)))
        mean_sq = mean * mean
        var_c2 = _interior(_blur(x * x)) - mean_sq + C2 / 2
        mean_sq += C1 / 2
        return cls(x, mean, mean_sq, var_c2)


class PairSSIM:
    """Mean SSIM of two frames from their :class:`LumaStats`, for frames of one size."""

    def __init__(self, height: int, width: int):
        full, inner = (height, width), (height - 2 * RADIUS, width - 2 * RADIUS)
        self._product, self._blurred = np.empty(full, np.float32), np.empty(full, np.float32)
        self._cross, self._num, self._den, self._den2 = (np.empty(inner, np.float32) for _ in range(4))

    def __call__(self, a: LumaStats, b: LumaStats) -> float:
        cv2.multiply(a.luma, b.luma, dst=self._product)
        _blur(self._product, out=self._blurred)
        cross = cv2.multiply(a.mean, b.mean, dst=self._cross, scale=2.0)  # 2 mu_a mu_b
        num = cv2.addWeighted(_interior(self._blurred), 2.0, cross, -1.0, C2, dst=self._num)  # 2 sigma_ab + C2
        cv2.add(cross, C1, dst=cross)
        cv2.multiply(num, cross, dst=num)
        den = cv2.add(a.mean_sq_c1, b.mean_sq_c1, dst=self._den)  # mu_a^2 + mu_b^2 + C1
        cv2.multiply(den, cv2.add(a.var_c2, b.var_c2, dst=self._den2), dst=den)  # * (var_a + var_b + C2)
        cv2.divide(num, den, dst=num)
        return cv2.mean(num)[0]


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean Gaussian SSIM of two single-channel 8-bit images of equal size."""
    if a.shape != b.shape:
        raise ValueError(f"SSIM needs images of equal size, got {a.shape} and {b.shape}")
    return PairSSIM(*a.shape[:2])(LumaStats.of(a), LumaStats.of(b))
