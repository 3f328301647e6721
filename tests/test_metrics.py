"""atdkit.metrics against independent references: scikit-image's PSNR and SSIM with the arguments each
profile stands for, and the official script's IE and RoI formulas, on random and real frames."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from atdkit.metrics import PROFILES, clip_roi, scale_roi, score, unit_float32
from helpers import shared

TOLERANCE = 1e-6

# What each profile means, written as scikit-image calls on float64 images in [0, 1].
REFERENCE_SSIM = {
    # old compare_ssim(multichannel=True, gaussian=True): 'gaussian' was ignored, so a 7x7 uniform
    # window with sample covariance, and the data range of a float dtype (-1..1): 2.
    "atd12k": dict(win_size=7, use_sample_covariance=True, data_range=2.0, channel_axis=2),
    "standard": dict(gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1.0, channel_axis=2),
}


def to_tensor(values: np.ndarray) -> np.ndarray:
    """8-bit values as the official loader had them (torchvision's ToTensor: float32 / 255), in float64."""
    return (values.astype(np.float32) / np.float32(255)).astype(np.float64)


def reference(prediction: np.ndarray, truth: np.ndarray, profile: str) -> dict:
    """Whole-image scores from the formulas: ``prediction`` float (any range), ``truth`` uint8."""
    pred = np.clip(prediction.astype(np.float64), 0, 1)
    if profile == "standard":
        pred = to_tensor(np.round(pred * 255))  # an 8-bit image, loaded again
    gt = to_tensor(truth)
    with np.errstate(divide="ignore"):
        psnr = peak_signal_noise_ratio(gt, pred, data_range=1.0)
    return {
        "psnr": psnr,
        "ssim": structural_similarity(pred, gt, **REFERENCE_SSIM[profile]),
        "ie": np.mean(np.sqrt(np.sum((pred * 255 - gt * 255) ** 2, axis=2))),
    }


def official_roi(roi, image_size, size=(960, 540)):
    """The official script's lines, verbatim in meaning: scale = original / test size, floor division."""
    scale_w, scale_h = float(image_size[0]) / size[0], float(image_size[1]) / size[1]
    return int(roi[0] // scale_w), int(roi[1] // scale_h), int(roi[2] // scale_w), int(roi[3] // scale_h)


def assert_close(scores, expected: dict) -> None:
    for key, value in expected.items():
        assert getattr(scores, key) == pytest.approx(value, abs=TOLERANCE), key


def noisy_pair(rng: np.random.Generator, shape=(540, 960, 3)) -> tuple[np.ndarray, np.ndarray]:
    truth = rng.integers(0, 256, shape, dtype=np.uint8)
    # A prediction near the truth, reaching outside [0, 1] so that clamping matters.
    prediction = truth / 255.0 + rng.normal(0, 0.08, shape)
    return prediction.astype(np.float32), truth


@pytest.mark.parametrize("profile", PROFILES)
def test_whole_image_scores_equal_the_reference_on_random_images(profile):
    rng = np.random.default_rng(1)
    for shape in ((540, 960, 3), (37, 53, 3)):
        prediction, truth = noisy_pair(rng, shape)
        assert_close(score(prediction, truth, PROFILES[profile]), reference(prediction, truth, profile))


def test_profiles_differ_as_documented():
    rng = np.random.default_rng(2)
    prediction, truth = noisy_pair(rng)
    official, standard = (score(prediction, truth, PROFILES[name]) for name in ("atd12k", "standard"))
    # Data range 2 makes the SSIM constants 4x larger, which lifts SSIM (the spec: "reads higher");
    # rounding to 8 bits moves PSNR.
    assert official.ssim > standard.ssim
    assert official.psnr != standard.psnr
    facts = PROFILES["atd12k"].facts()
    assert "7x7 uniform" in facts["ssim"] and "data range 2" in facts["ssim"] and facts["rounding"] == "none"
    assert PROFILES["standard"].facts()["rounding"] == "8-bit"


@pytest.mark.parametrize("profile", PROFILES)
def test_roi_is_scaled_like_the_official_script_and_scored_on_the_crop(profile):
    rng = np.random.default_rng(3)
    prediction, truth = noisy_pair(rng)
    for roi, image_size in (
        ((1001, 333, 251, 101), (1920, 1080)),
        ((100, 50, 400, 300), (1280, 720)),
        ((10.7, 5.2, 300.9, 200.1), (960, 540)),
    ):
        x, y, w, h = official_roi(roi, image_size)
        scores = score(prediction, truth, PROFILES[profile], roi, image_size)
        assert scores.roi == (x, y, w, h) == scale_roi(roi, image_size, (960, 540))
        crop = reference(prediction[y : y + h, x : x + w], truth[y : y + h, x : x + w], profile)
        assert scores.roi_psnr == pytest.approx(crop["psnr"], abs=TOLERANCE)
        assert scores.roi_ssim == pytest.approx(crop["ssim"], abs=TOLERANCE)
        assert scores.notes == []


def test_roi_outside_the_image_is_clipped_and_reported():
    rng = np.random.default_rng(4)
    prediction, truth = noisy_pair(rng)
    scores = score(prediction, truth, PROFILES["atd12k"], (1800, -40, 400, 300), (1920, 1080))
    assert scores.roi == (900, 0, 60, 130) == clip_roi((900, -20, 200, 150), (960, 540))
    crop = reference(prediction[0:130, 900:960], truth[0:130, 900:960], "atd12k")
    assert scores.roi_psnr == pytest.approx(crop["psnr"], abs=TOLERANCE)
    assert scores.roi_ssim == pytest.approx(crop["ssim"], abs=TOLERANCE)
    assert "clipped" in scores.notes[0]

    outside = score(prediction, truth, PROFILES["atd12k"], (5000, 5000, 100, 100), (1920, 1080))
    assert outside.roi_psnr is None and outside.roi_ssim is None and any("empty" in n for n in outside.notes)


@pytest.mark.parametrize("profile, side", [("atd12k", 6), ("standard", 10)])
def test_roi_smaller_than_the_ssim_window_keeps_psnr_and_reports(profile, side):
    rng = np.random.default_rng(5)
    prediction, truth = noisy_pair(rng)
    scores = score(prediction, truth, PROFILES[profile], (100, 100, side, 40))
    assert scores.roi_ssim is None
    assert (
        f"smaller than the {PROFILES[profile].ssim_window}x{PROFILES[profile].ssim_window} SSIM window"
        in scores.notes[0]
    )
    pred = np.clip(prediction[100:140, 100 : 100 + side].astype(np.float64), 0, 1)
    if profile == "standard":
        pred = to_tensor(np.round(pred * 255))
    expected = peak_signal_noise_ratio(to_tensor(truth[100:140, 100 : 100 + side]), pred, data_range=1.0)
    assert scores.roi_psnr == pytest.approx(expected, abs=TOLERANCE)
    # One pixel wider is scored.
    assert score(prediction, truth, PROFILES[profile], (100, 100, side + 1, 40)).roi_ssim is not None


@pytest.mark.parametrize("profile", PROFILES)
def test_an_exact_prediction_has_infinite_psnr(profile):
    truth = np.random.default_rng(6).integers(0, 256, (64, 96, 3), dtype=np.uint8)
    scores = score(
        unit_float32(truth), truth, PROFILES[profile], (10, 10, 30, 30)
    )  # what `repeat` gives on a held drawing
    assert math.isinf(scores.psnr) and math.isinf(scores.roi_psnr)
    assert scores.ssim == pytest.approx(1.0) and scores.ie == 0.0


def real_frames() -> list[np.ndarray]:
    """The real 1080p triplet and anime key frames, resized to 960x540 with Pillow's Lanczos (the official loader)."""
    triplet = shared("triplets", "ccvfi_dragon_1080p")
    pairs = shared("pairs", "anime_keyframes_640x540")
    paths = [triplet / f"frame{n}.png" for n in (1, 2, 3)] + sorted(pairs.glob("*.png"))[:2]
    return [np.asarray(Image.open(p).convert("RGB").resize((960, 540), Image.LANCZOS)) for p in paths]


@pytest.mark.parametrize("profile", PROFILES)
def test_scores_equal_the_reference_on_real_frames(profile):
    frames = real_frames()
    frame1, frame2, frame3 = frames[:3]
    blend = (frame1 / 255.0 + frame3 / 255.0) / 2
    cases = [(blend.astype(np.float32), frame2), (frame1 / 255.0, frame2), (frames[3] / 255.0, frames[4])]
    for prediction, truth in cases:
        scores = score(prediction, truth, PROFILES[profile], (700, 300, 800, 500), (1920, 1080))
        assert_close(scores, reference(prediction, truth, profile))
        x, y, w, h = official_roi((700, 300, 800, 500), (1920, 1080))
        crop = reference(prediction[y : y + h, x : x + w], truth[y : y + h, x : x + w], profile)
        assert scores.roi_psnr == pytest.approx(crop["psnr"], abs=TOLERANCE)
        assert scores.roi_ssim == pytest.approx(crop["ssim"], abs=TOLERANCE)
