"""Chamfer distance between the line drawings of two frames, as EISAI defines it (Chen & Zwicker, ECCV 2022;
github.com/ShuhongChen/eisai-anime-interpolator, ``_util/distance_transform_v0.py`` and ``sketchers_v1.py``).

1. Lines: the grey image (0.299 R + 0.587 G + 0.114 B) blurred by two Gaussians (sigma 1, 9x9 taps, and
   sigma 1.6, 13x13 taps, replicate borders); a pixel is a line where 0.5 + 2 (wide - narrow) - 0.01 > 0.5.
2. Each drawing's Euclidean distance transform: every pixel's distance to the nearest line pixel (the
   image diagonal everywhere when there is no line).
3. The mean over the image of the truth's lines weighed by the prediction's distances, and the other way
   round, averaged, divided by the image diagonal.

EISAI computes the transform with CuPy on a GPU (SciPy on a CPU); here OpenCV's exact one does it.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

GREY = (0.299, 0.587, 0.114)
NARROW = cv2.getGaussianKernel(9, 1.0, cv2.CV_32F)  # 2 int(sigma * 4) + 1 taps, as EISAI's batch_dog
WIDE = cv2.getGaussianKernel(13, 1.6, cv2.CV_32F)
T, EPSILON = 2.0, 0.01


def lines(rgb: np.ndarray) -> np.ndarray:
    """Where an RGB image (H, W, 3), values in [0, 1], has lines: uint8 (H, W), 1 on a line."""
    grey = np.asarray(rgb, np.float32) @ np.array(GREY, np.float32)
    narrow = cv2.sepFilter2D(grey, cv2.CV_32F, NARROW, NARROW, borderType=cv2.BORDER_REPLICATE)
    wide = cv2.sepFilter2D(grey, cv2.CV_32F, WIDE, WIDE, borderType=cv2.BORDER_REPLICATE)
    return ((0.5 + T * (wide - narrow) - EPSILON) > 0.5).astype(np.uint8)


def distances(drawing: np.ndarray) -> np.ndarray:
    """Every pixel's distance to the nearest line pixel of ``drawing`` (float32); the diagonal without lines."""
    if not drawing.any():
        return np.full(drawing.shape, math.hypot(*drawing.shape), np.float32)
    return cv2.distanceTransform(1 - drawing, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)


def chamfer_distance(prediction: np.ndarray, truth: np.ndarray) -> float:
    """EISAI's chamfer distance between two RGB images (H, W, 3) in [0, 1]."""
    drawn, true = lines(prediction), lines(truth)
    diagonal = math.hypot(*true.shape)
    to_prediction = float((true * distances(drawn)).mean())
    to_truth = float((drawn * distances(true)).mean())
    return (to_prediction + to_truth) / 2 / diagonal
