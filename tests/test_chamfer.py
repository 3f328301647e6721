"""EISAI's chamfer distance against its definition restated with the libraries EISAI builds it from
(kornia's grey conversion and Gaussian blur, SciPy's Euclidean distance transform: its CPU path), on real frames."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from PIL import Image
from scipy.ndimage import distance_transform_edt

from atdkit.benchmark.scoring.chamfer import chamfer_distance, distances, lines
from helpers import shared

kornia = pytest.importorskip("kornia", reason="the reference uses kornia, as EISAI does")


def eisai_lines(rgb: np.ndarray) -> np.ndarray:
    """EISAI's batch_dog(t=2, sigma=1, k=1.6, epsilon=0.01, kernel_factor=4, clip=False) > 0.5."""
    image = torch.from_numpy(rgb.astype(np.float32)).permute(2, 0, 1)[None]
    grey = kornia.color.rgb_to_grayscale(image)
    narrow = kornia.filters.gaussian_blur2d(grey, (9, 9), (1.0, 1.0), border_type="replicate")
    wide = kornia.filters.gaussian_blur2d(grey, (13, 13), (1.6, 1.6), border_type="replicate")
    return ((0.5 + 2.0 * (wide - narrow) - 0.01) > 0.5).float()[0, 0].numpy()


def eisai_chamfer(prediction: np.ndarray, truth: np.ndarray) -> float:
    """batch_chamfer_distance(truth lines, prediction lines) with batch_edt's CPU path."""
    drawn, true = eisai_lines(prediction), eisai_lines(truth)
    height, width = true.shape
    diagonal = math.sqrt(height**2 + width**2)

    def edt(image):
        return distance_transform_edt(1 - image) if image.sum() else np.ones_like(image) * diagonal

    return ((true * edt(drawn)).mean() / diagonal + (drawn * edt(true)).mean() / diagonal) / 2


def real_frames() -> list[np.ndarray]:
    folder = shared("triplets", "ccvfi_dragon_1080p")
    frames = [
        np.asarray(Image.open(folder / f"frame{n}.png").convert("RGB").resize((960, 540), Image.LANCZOS))
        for n in (1, 2, 3)
    ]
    pair = shared("pairs", "anime_keyframes_640x540")
    keys = [np.asarray(Image.open(p).convert("RGB")) for p in sorted(pair.glob("*.png"))[:2]]
    return [f / 255.0 for f in frames + keys]


def test_equals_eisais_definition_on_real_frames():
    frames = real_frames()
    blend = (frames[0] + frames[2]) / 2
    cases = [(blend, frames[1]), (frames[0], frames[1]), (frames[3], frames[4]), (np.roll(frames[1], 3, 1), frames[1])]
    values = []
    for prediction, truth in cases:
        # Blurs summed in another order can put a pixel sitting on the threshold on the other side: a few in 10^5.
        assert np.mean(lines(prediction) != eisai_lines(prediction)) < 2e-5
        expected = eisai_chamfer(prediction, truth)
        assert chamfer_distance(prediction, truth) == pytest.approx(expected, rel=1e-4, abs=1e-9)
        values.append(expected)
    assert min(values) > 0  # drawings that differ are apart (a blend draws the moving lines twice)


def test_identical_drawings_are_at_zero_and_an_empty_one_at_the_diagonal():
    frame = real_frames()[1]
    assert chamfer_distance(frame, frame) == 0.0
    flat = np.full_like(frame, 0.5)
    assert not lines(flat).any()
    assert np.all(distances(lines(flat)) == np.float32(math.hypot(540, 960)))
    expected = eisai_chamfer(flat, frame)
    assert chamfer_distance(flat, frame) == pytest.approx(expected, rel=1e-4) and expected > 0
