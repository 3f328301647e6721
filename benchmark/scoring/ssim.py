"""SSIM of two float images (H, W, C) as the published scorers compute it, one variant each.

- ``uniform``: old scikit-image's ``compare_ssim(pred, gt, multichannel=True)`` on floats: a 7x7
  uniform window, sample covariance (N-1), data range 2 (inferred from the float dtype), per
  channel then averaged, a 3-px border cropped, reflect padding. AnimeInterp's and EISAI's scorers.
- ``gaussian``: the standard SSIM of later code bases: a Gaussian window (sigma 1.5, 11x11),
  population covariance, data range 1, per channel then averaged, a 5-px border cropped.
- ``matlab``: RIFE's ``ssim_matlab`` (ECCV2022-RIFE's and GMFSS's scorers): the colour image as a
  volume (channels, H, W) filtered by an 11x11x11 Gaussian (sigma 1.5) with 5 samples of replicate
  padding on every axis, data range 1, the mean of the whole map (no border cropped).

Each equals its reference to 1e-6 on real frames (tests/test_metrics.py). Local means are computed
with OpenCV's separable filters in float64, in buffers reused per thread: SSIM is most of what a
benchmark spends per triplet outside the method.
"""

from __future__ import annotations

import threading

import cv2
import numpy as np

VARIANTS = ("uniform", "gaussian", "matlab")
WINDOWS = {"uniform": 7, "gaussian": 11, "matlab": 11}  # the smallest image (or RoI) a variant scores
DESCRIPTIONS = {  # what run.json and the summary say of each variant
    "uniform": "7x7 uniform window, sample covariance, data range 2, per channel, 3-px border cropped",
    "gaussian": "11x11 Gaussian window (sigma 1.5), population covariance, data range 1, per channel, "
    "5-px border cropped",
    "matlab": "RIFE's ssim_matlab: 11x11x11 Gaussian (sigma 1.5) over (channel, H, W), replicate padding, "
    "data range 1, whole map",
}
_GAUSSIAN = cv2.getGaussianKernel(11, 1.5, cv2.CV_64F)
_WORKSPACE = threading.local()
_WORKSPACE_SHAPES = 2  # per thread: the frame's and the last RoI's


def workspace(shape: tuple[int, ...]) -> list[np.ndarray]:
    """Six float64 arrays of ``shape``, reused per thread (least recently used shape dropped): a
    frame-sized array freshly allocated costs as much in page faults as the arithmetic done in it."""
    cache = _WORKSPACE.__dict__.setdefault("arrays", {})
    arrays = cache.pop(shape, None) or [np.empty(shape) for _ in range(6)]
    cache[shape] = arrays
    if len(cache) > _WORKSPACE_SHAPES:
        cache.pop(next(iter(cache)))
    return arrays


def _channel_mixing(channels: int) -> np.ndarray:
    """The 11-tap Gaussian along the channel axis with 5 samples of replicate padding, as a matrix."""
    taps = _GAUSSIAN[:, 0]
    mixing = np.zeros((channels, channels))
    for out in range(channels):
        for offset, weight in zip(range(-5, 6), taps):
            mixing[out, min(max(out + offset, 0), channels - 1)] += weight
    return mixing


def _local_mean(image: np.ndarray, variant: str, out: np.ndarray) -> np.ndarray:
    if variant == "uniform":
        return cv2.blur(image, (7, 7), dst=out, borderType=cv2.BORDER_REFLECT)
    border = cv2.BORDER_REPLICATE if variant == "matlab" else cv2.BORDER_REFLECT
    cv2.sepFilter2D(image, cv2.CV_64F, _GAUSSIAN, _GAUSSIAN, dst=out, borderType=border)
    if variant == "matlab" and out.ndim == 3:
        out[:] = out @ _channel_mixing(out.shape[2]).T
    return out


def ssim(prediction: np.ndarray, truth: np.ndarray, variant: str) -> float:
    """Mean SSIM of two float images (H, W, C) under ``variant`` (one of :data:`VARIANTS`)."""
    if prediction.shape != truth.shape:
        raise ValueError(f"SSIM needs images of equal size, got {prediction.shape} and {truth.shape}")
    win = WINDOWS[variant]
    if min(prediction.shape[:2]) < win:
        raise ValueError(f"{prediction.shape[1]}x{prediction.shape[0]} is smaller than the {win}x{win} SSIM window")
    x, y = np.asarray(prediction, np.float64), np.asarray(truth, np.float64)
    norm = win * win / (win * win - 1) if variant == "uniform" else 1.0
    data_range = 2.0 if variant == "uniform" else 1.0
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    # var_x + var_y from one filter of x^2 + y^2 (the filters are linear)
    mean_x, mean_y, numerator, denominator, scratch, var_sum = workspace(x.shape)
    _local_mean(x, variant, mean_x)
    _local_mean(y, variant, mean_y)
    np.multiply(mean_x, mean_y, out=numerator)
    np.multiply(mean_x, mean_x, out=denominator)
    denominator += np.multiply(mean_y, mean_y, out=scratch)
    np.multiply(x, x, out=scratch)
    scratch += np.multiply(y, y, out=var_sum)
    _local_mean(scratch, variant, var_sum)
    var_sum -= denominator
    var_sum *= norm
    var_sum += c2  # var_x + var_y + C2
    cov = _local_mean(np.multiply(x, y, out=scratch), variant, mean_x)
    cov -= numerator
    cov *= 2.0 * norm
    cov += c2  # 2 cov + C2
    numerator *= 2.0
    numerator += c1
    numerator *= cov  # (2 mu_x mu_y + C1)(2 cov + C2)
    denominator += c1
    denominator *= var_sum  # (mu_x^2 + mu_y^2 + C1)(var_x + var_y + C2)
    index = np.divide(numerator, denominator, out=numerator)
    if variant == "matlab":
        return float(index.mean())
    pad = (win - 1) // 2
    channels = 1 if index.ndim == 2 else index.shape[2]
    return float(np.mean(cv2.mean(index[pad:-pad, pad:-pad])[:channels]))
