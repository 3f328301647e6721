"""Optical-flow estimators behind one interface, chosen by name (``atdkit stats --flow NAME``).

An estimator is made once per worker process by its factory and then called as
``estimate(image_a, image_b) -> flow``: two uint8 RGB images of one size (H, W, 3) in, the
flow from ``image_a`` to ``image_b`` out, float32 (H, W, 2) holding (dx, dy) in pixels of
the images given. Adding an estimator is one decorated factory function.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

FlowEstimator = Callable[[np.ndarray, np.ndarray], np.ndarray]
FLOW_METHODS: dict[str, Callable[[], FlowEstimator]] = {}


def flow_method(name: str):
    """Register ``factory`` as the flow estimator called ``name``."""

    def register(factory: Callable[[], FlowEstimator]) -> Callable[[], FlowEstimator]:
        FLOW_METHODS[name] = factory
        return factory

    return register


def make_estimator(name: str) -> FlowEstimator:
    if name not in FLOW_METHODS:
        raise ValueError(f"unknown flow method {name!r}; available: {', '.join(sorted(FLOW_METHODS))}")
    return FLOW_METHODS[name]()


@flow_method("dis")
def dis() -> FlowEstimator:
    """OpenCV's Dense Inverse Search (Kroeger et al., ECCV 2016), medium preset, on luma."""
    estimator = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)

    def estimate(image_a: np.ndarray, image_b: np.ndarray) -> np.ndarray:
        gray_a = cv2.cvtColor(image_a, cv2.COLOR_RGB2GRAY)
        gray_b = cv2.cvtColor(image_b, cv2.COLOR_RGB2GRAY)
        return estimator.calc(gray_a, gray_b, None)

    return estimate
