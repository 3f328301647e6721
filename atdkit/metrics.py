"""Interpolation scores under named profiles: PSNR, SSIM, interpolation error (IE), motion RoI.

A :class:`Profile` fixes every choice that moves the numbers, so that a results row can say
exactly how it was scored:

- ``atd12k`` (default): the official ATD-12K protocol behind the paper's Table 1. Frames
  resized to 960x540 (Pillow Lanczos, antialiased), prediction clamped to [0, 1] and not
  rounded; PSNR with data range 1; SSIM with a 7x7 uniform window, sample covariance and
  data range 2 (what old scikit-image inferred from a float dtype), per channel then
  averaged, the 3-px border excluded; RoI scaled to 960x540 by floor division.
- ``standard``: what later VFI code bases report: the same frames, prediction clamped and
  rounded to 8 bits; Gaussian SSIM (sigma 1.5, 11x11, population covariance, data range 1).

Every number equals scikit-image's ``peak_signal_noise_ratio`` / ``structural_similarity``
with the matching arguments on float64 images (see tests/test_metrics.py); local means are
computed with OpenCV filters, which is several times faster than scipy.ndimage.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field

import cv2
import numpy as np

SIZE = (960, 540)  # (W, H) the official protocol scores at


@dataclass(frozen=True)
class Profile:
    name: str
    summary: str
    size: tuple[int, int]  # (W, H) frames are resized to before the method; the RoI is scaled to it
    round_to_8bit: bool  # quantise the clamped prediction to 8 bits before scoring
    ssim_gaussian: bool  # Gaussian window (sigma 1.5, 11x11) instead of a 7x7 uniform one
    ssim_sample_covariance: bool  # N-1 (True) or N in the local (co)variances
    ssim_data_range: float
    psnr_data_range: float = 1.0

    @property
    def ssim_window(self) -> int:
        """Side of the SSIM window: the smallest image (or RoI) SSIM can score."""
        return 11 if self.ssim_gaussian else 7

    def facts(self) -> dict:
        """What a results file must record to make its numbers reproducible."""
        window = "Gaussian sigma 1.5, 11x11" if self.ssim_gaussian else "7x7 uniform"
        covariance = "sample (N-1)" if self.ssim_sample_covariance else "population (N)"
        pad = (self.ssim_window - 1) // 2
        return {
            "name": self.name,
            "summary": self.summary,
            "resize": f"{self.size[0]}x{self.size[1]}, Pillow Lanczos (antialiased); "
            "frames already that size are used as they are",
            "prediction": "clamped to [0, 1], "
            + ("rounded to 8 bits" if self.round_to_8bit else "not rounded (float)"),
            "rounding": "8-bit" if self.round_to_8bit else "none",
            "psnr": f"data range {self.psnr_data_range:g}; "
            "infinite for an exact prediction (excluded from means, counted)",
            "ssim": f"{window} window, {covariance} covariance, data range {self.ssim_data_range:g}, "
            f"per RGB channel then averaged, {pad}-px border excluded, reflect padding",
            "roi": f"scaled to {self.size[0]}x{self.size[1]} by floor division (x // (W / {self.size[0]}), "
            f"y // (H / {self.size[1]}), width and height alike), clipped to the image",
            "ie": "mean over pixels of the RGB Euclidean distance on the 0-255 scale",
            "precision": "metrics in float64; ground truth = 8-bit frame / 255 in float32 (as torchvision's ToTensor)",
        }

    def prepare(self, prediction: np.ndarray) -> np.ndarray:
        """The prediction as scored: float64, clamped to [0, 1], rounded to 8 bits if the profile says so."""
        out = np.clip(np.asarray(prediction, np.float64), 0.0, 1.0)
        return unit_scale(np.round(out * 255.0)) if self.round_to_8bit else out


PROFILES = {
    profile.name: profile
    for profile in (
        Profile(
            "atd12k",
            "official ATD-12K protocol (paper's Table 1)",
            SIZE,
            round_to_8bit=False,
            ssim_gaussian=False,
            ssim_sample_covariance=True,
            ssim_data_range=2.0,
        ),
        Profile(
            "standard",
            "8-bit prediction, Gaussian SSIM (later VFI code bases)",
            SIZE,
            round_to_8bit=True,
            ssim_gaussian=True,
            ssim_sample_covariance=False,
            ssim_data_range=1.0,
        ),
    )
}
DEFAULT_PROFILE = "atd12k"


def unit_float32(values: np.ndarray) -> np.ndarray:
    """8-bit values (0-255) as float32 in [0, 1], as torchvision's ToTensor gives them: what methods are fed."""
    return np.asarray(values, np.float32) / np.float32(255.0)


def unit_scale(values: np.ndarray) -> np.ndarray:
    """8-bit values as scored: :func:`unit_float32` widened to float64, so that a method returning
    its input unchanged matches the truth exactly (infinite PSNR)."""
    return unit_float32(values).astype(np.float64)


_GAUSSIAN = cv2.getGaussianKernel(11, 1.5, cv2.CV_64F)
_WORKSPACE = threading.local()
_WORKSPACE_SHAPES = 2  # per thread: the frame's and the last RoI's


def _buffers(shape: tuple[int, ...]) -> list[np.ndarray]:
    """Six float64 arrays of ``shape``, reused per thread (least recently used shape dropped): a
    frame-sized array freshly allocated costs as much in page faults as the arithmetic done in it."""
    cache = _WORKSPACE.__dict__.setdefault("arrays", {})
    arrays = cache.pop(shape, None) or [np.empty(shape) for _ in range(6)]
    cache[shape] = arrays
    if len(cache) > _WORKSPACE_SHAPES:
        cache.pop(next(iter(cache)))
    return arrays


def _local_mean(image: np.ndarray, profile: Profile, out: np.ndarray) -> np.ndarray:
    if profile.ssim_gaussian:
        return cv2.sepFilter2D(image, cv2.CV_64F, _GAUSSIAN, _GAUSSIAN, dst=out, borderType=cv2.BORDER_REFLECT)
    return cv2.blur(image, (7, 7), dst=out, borderType=cv2.BORDER_REFLECT)


def ssim(prediction: np.ndarray, truth: np.ndarray, profile: Profile) -> float:
    """Mean SSIM of two float images (H, W, C) in [0, 1] under ``profile``: per channel, then averaged."""
    if prediction.shape != truth.shape:
        raise ValueError(f"SSIM needs images of equal size, got {prediction.shape} and {truth.shape}")
    win = profile.ssim_window
    if min(prediction.shape[:2]) < win:
        raise ValueError(f"{prediction.shape[1]}x{prediction.shape[0]} is smaller than the {win}x{win} SSIM window")
    x, y = np.asarray(prediction, np.float64), np.asarray(truth, np.float64)
    norm = win * win / (win * win - 1) if profile.ssim_sample_covariance else 1.0
    c1, c2 = (0.01 * profile.ssim_data_range) ** 2, (0.03 * profile.ssim_data_range) ** 2
    # In place in reused buffers, and var_x + var_y from one filter of x^2 + y^2 (the filters
    # are linear): SSIM is most of what a benchmark spends per triplet outside the method.
    mean_x, mean_y, numerator, denominator, scratch, var_sum = _buffers(x.shape)
    _local_mean(x, profile, mean_x)
    _local_mean(y, profile, mean_y)
    np.multiply(mean_x, mean_y, out=numerator)
    np.multiply(mean_x, mean_x, out=denominator)
    denominator += np.multiply(mean_y, mean_y, out=scratch)
    np.multiply(x, x, out=scratch)
    scratch += np.multiply(y, y, out=var_sum)
    _local_mean(scratch, profile, var_sum)
    var_sum -= denominator
    var_sum *= norm
    var_sum += c2  # var_x + var_y + C2
    cov = _local_mean(np.multiply(x, y, out=scratch), profile, mean_x)
    cov -= numerator
    cov *= 2.0 * norm
    cov += c2  # 2 cov + C2
    numerator *= 2.0
    numerator += c1
    numerator *= cov  # (2 mu_x mu_y + C1)(2 cov + C2)
    denominator += c1
    denominator *= var_sum  # (mu_x^2 + mu_y^2 + C1)(var_x + var_y + C2)
    index = np.divide(numerator, denominator, out=numerator)
    pad = (win - 1) // 2
    channels = 1 if index.ndim == 2 else index.shape[2]
    return float(np.mean(cv2.mean(index[pad:-pad, pad:-pad])[:channels]))


def errors(prediction: np.ndarray, truth: np.ndarray, data_range: float = 1.0) -> tuple[float, float]:
    """(PSNR in dB, ``inf`` for identical images; IE as the official script writes it: the mean
    RGB Euclidean distance on the 0-255 scale) of two float images (H, W, 3)."""
    squared = np.subtract(prediction, truth, out=_buffers(prediction.shape)[0])
    squared *= squared
    mse = float(squared.mean())
    distance = squared[..., 0] + squared[..., 1]  # a sum over a length-3 last axis is several times slower
    distance += squared[..., 2]
    ie = float(np.sqrt(distance, out=distance).mean()) * 255.0
    return (math.inf if mse == 0 else 10.0 * math.log10(data_range**2 / mse)), ie


def scale_roi(
    roi: tuple[float, float, float, float], image_size: tuple[int, int], size: tuple[int, int]
) -> tuple[int, int, int, int]:
    """The official RoI scaling: (x, y, w, h) in pixels of ``image_size`` -> pixels of ``size``, by floor division."""
    scale_w, scale_h = image_size[0] / size[0], image_size[1] / size[1]
    x, y, w, h = roi
    return int(x // scale_w), int(y // scale_h), int(w // scale_w), int(h // scale_h)


def clip_roi(box: tuple[int, int, int, int], size: tuple[int, int]) -> tuple[int, int, int, int]:
    """``box`` (x, y, w, h) cut to the image of ``size`` (W, H); w or h may become 0."""
    x, y, w, h = box
    x0, y0 = min(max(x, 0), size[0]), min(max(y, 0), size[1])
    x1, y1 = min(max(x + w, x0), size[0]), min(max(y + h, y0), size[1])
    return x0, y0, x1 - x0, y1 - y0


@dataclass
class Scores:
    psnr: float
    ie: float
    ssim: float
    roi: tuple[int, int, int, int] | None = None  # the box scored, in pixels of the scored image
    roi_psnr: float | None = None
    roi_ssim: float | None = None
    notes: list[str] = field(default_factory=list)  # what could not be scored as asked, and why


def score(
    prediction: np.ndarray,
    truth: np.ndarray,
    profile: Profile,
    roi: tuple[float, float, float, float] | None = None,
    image_size: tuple[int, int] | None = None,
) -> Scores:
    """Score a raw prediction (float, (H, W, 3), any range) against the 8-bit ground truth.

    ``roi`` is (x, y, w, h) in pixels of ``image_size`` (W, H), the resolution it was drawn at
    (default: the scored size); it is scaled like the official script, then clipped.
    """
    pred = profile.prepare(prediction)
    gt = unit_scale(truth)
    scores = Scores(*errors(pred, gt, profile.psnr_data_range), ssim(pred, gt, profile))
    if roi is None:
        return scores
    height, width = gt.shape[:2]
    scaled = scale_roi(roi, image_size or (width, height), (width, height))
    box = clip_roi(scaled, (width, height))
    scores.roi = box
    if box != scaled:
        scores.notes.append(f"RoI {_box(scaled)} reaches outside the {width}x{height} image: clipped to {_box(box)}")
    x, y, w, h = box
    if w == 0 or h == 0:
        scores.notes.append("RoI is empty: not scored")
        return scores
    pred_roi, gt_roi = pred[y : y + h, x : x + w], gt[y : y + h, x : x + w]
    scores.roi_psnr = errors(pred_roi, gt_roi, profile.psnr_data_range)[0]
    if min(w, h) < profile.ssim_window:
        win = profile.ssim_window
        scores.notes.append(f"RoI {w}x{h} is smaller than the {win}x{win} SSIM window: RoI SSIM not scored")
    else:
        scores.roi_ssim = ssim(pred_roi, gt_roi, profile)
    return scores


def _box(box: tuple[int, int, int, int]) -> str:
    x, y, w, h = box
    return f"{w}x{h}+{x}+{y}"
