import cv2
import numpy as np
import pytest
from skimage.metrics import structural_similarity

from atdkit.ssim import MIN_SIDE, LumaStats, PairSSIM, ssim
from helpers import shared


def reference(a, b):
    return structural_similarity(a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255)


def test_matches_scikit_image_on_real_keyframes():
    folder = shared("pairs", "anime_keyframes_640x540")
    images = [cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) for p in sorted(folder.glob("*.png"))]
    pairs = [(a, b) for a in images for b in images if a.shape == b.shape]
    assert len(pairs) >= 4
    for a, b in pairs:
        assert ssim(a, b) == pytest.approx(reference(a, b), abs=1e-3)


@pytest.mark.parametrize("shape", [(11, 11), (37, 64), (180, 320)])
def test_matches_scikit_image_on_noise_and_shifts(shape):
    rng = np.random.default_rng(7)
    a = cv2.GaussianBlur(rng.integers(0, 256, shape, dtype=np.uint8), (5, 5), 2)
    for b in (a, np.roll(a, 3, axis=1), 255 - a, rng.integers(0, 256, shape, dtype=np.uint8)):
        assert ssim(a, b) == pytest.approx(reference(a, b), abs=1e-3)


def test_pair_engine_reuses_per_frame_statistics():
    rng = np.random.default_rng(1)
    frames = [rng.integers(0, 256, (40, 60), dtype=np.uint8) for _ in range(3)]
    stats = [LumaStats.of(f) for f in frames]
    engine = PairSSIM(40, 60)
    for i in range(3):
        for j in range(3):
            assert engine(stats[i], stats[j]) == pytest.approx(reference(frames[i], frames[j]), abs=1e-3)


def test_image_smaller_than_window_is_refused():
    tiny = np.zeros((MIN_SIDE - 1, 40), np.uint8)
    with pytest.raises(ValueError, match="smaller than the 11x11 SSIM window"):
        ssim(tiny, tiny)
