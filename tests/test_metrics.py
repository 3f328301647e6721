"""Each scoring profile against its published scorer's formulas, restated here independently: scikit-image's
PSNR and SSIM with the arguments each scorer ended up using, RIFE's ``ssim_matlab`` as a 3-D convolution,
GMFSS's resize, the official script's IE and RoI formulas; on random and real frames."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from atdkit.benchmark.scoring.profiles import PROFILES, unit_float32
from atdkit.benchmark.scoring.scores import clip_roi, scale_roi, score
from helpers import shared

TOLERANCE = 1e-6

# SSIM as each scorer computes it, written as scikit-image calls on float64 images
SKIMAGE_SSIM = {
    # old compare_ssim(multichannel=True, gaussian=True): 'gaussian' was ignored, so a 7x7 uniform
    # window with sample covariance, and the data range of a float dtype (-1..1): 2.
    "uniform": dict(win_size=7, use_sample_covariance=True, data_range=2.0, channel_axis=2),
    "gaussian": dict(gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1.0, channel_axis=2),
}


def ssim_matlab(first: np.ndarray, second: np.ndarray) -> float:
    """RIFE's ssim_matlab: the (C, H, W) volume, an 11x11x11 Gaussian (sigma 1.5), replicate padding of 5, L = 1."""
    taps = torch.tensor([math.exp(-((x - 5) ** 2) / (2 * 1.5**2)) for x in range(11)], dtype=torch.float64)
    taps /= taps.sum()
    a, b = (torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))[None, None] for x in (first, second))

    def blur(x):  # the 11x11x11 window is the product of three 11-tap ones: one axis at a time
        x = F.pad(x, (5,) * 6, mode="replicate")
        for shape in ((11, 1, 1), (1, 11, 1), (1, 1, 11)):
            x = F.conv3d(x, taps.view(1, 1, *shape))
        return x

    mu1, mu2 = blur(a), blur(b)
    sigma1, sigma2, sigma12 = blur(a * a) - mu1**2, blur(b * b) - mu2**2, blur(a * b) - mu1 * mu2
    c1, c2 = 0.01**2, 0.03**2
    return float(
        (((2 * mu1 * mu2 + c1) * (2 * sigma12 + c2)) / ((mu1**2 + mu2**2 + c1) * (sigma1 + sigma2 + c2))).mean()
    )


def to_tensor(values: np.ndarray) -> np.ndarray:
    """8-bit values as the official loaders had them (float32 / 255), in float64."""
    return (values.astype(np.float32) / np.float32(255)).astype(np.float64)


def gmfss_resize(image: np.ndarray) -> np.ndarray:
    """GMFSS's F.interpolate(..., (544, 960), mode="bilinear", align_corners=False) of an (H, W, 3) image."""
    tensor = torch.from_numpy(np.ascontiguousarray(image, np.float32)).permute(2, 0, 1)[None]
    height = -(-image.shape[0] // 32) * 32
    width = -(-image.shape[1] // 32) * 32
    return F.interpolate(tensor, (height, width), mode="bilinear", align_corners=False)[0].permute(1, 2, 0).numpy()


def reference(prediction: np.ndarray, truth: np.ndarray, profile: str, with_ssim: bool = True) -> dict:
    """Whole-image scores from each scorer's formulas: ``prediction`` float (any range) at the scored size,
    ``truth`` the ground truth float in [0, 1] (for gmfss: already resized, not yet rounded)."""
    pred, gt = prediction.astype(np.float64), truth.astype(np.float64)
    if profile in ("atd12k", "standard"):
        pred = np.clip(pred, 0, 1)
    if profile in ("standard", "rife", "gmfss"):  # rounded in float32, as the scorers' float32 tensors are
        pred = to_tensor(np.round(pred.astype(np.float32) * np.float32(255)))
    if profile == "gmfss":
        gt = to_tensor(np.round(gt.astype(np.float32) * np.float32(255)))
    data_range = (1.0 if pred.min() >= 0 else 2.0) if profile == "eisai" else 1.0
    with np.errstate(divide="ignore"):
        psnr = peak_signal_noise_ratio(gt, pred, data_range=data_range)
    variant = PROFILES[profile].ssim
    if not with_ssim:
        ssim = None
    elif variant == "matlab":
        ssim = ssim_matlab(gt, pred)
    else:
        ssim = structural_similarity(pred, gt, **SKIMAGE_SSIM[variant])
    return {"psnr": psnr, "ssim": ssim, "ie": np.mean(np.sqrt(np.sum((pred * 255 - gt * 255) ** 2, axis=2)))}


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
    return prediction.astype(np.float32), unit_float32(truth)


def scored(prediction: np.ndarray, truth: np.ndarray, profile: str, **roi):
    """(atdkit's scores, the reference's whole-image scores) of a prediction and a truth given at 960x540."""
    if profile == "gmfss":  # the scorer resizes both (the method would have predicted at that size)
        prediction, truth = gmfss_resize(prediction), gmfss_resize(truth)
    if profile == "eisai":  # values above 1 make its scorer refuse the PSNR (tested on its own); negatives stay
        prediction = np.clip(prediction, -0.5, 1.0)
    return score(prediction, truth, PROFILES[profile], **roi), reference(prediction, truth, profile), prediction, truth


@pytest.mark.parametrize("profile", PROFILES)
def test_whole_image_scores_equal_the_reference_on_random_images(profile):
    rng = np.random.default_rng(1)
    for shape in ((540, 960, 3), (37, 53, 3)):
        prediction, truth = noisy_pair(rng, shape)
        mine, expected, _, _ = scored(prediction, truth, profile)
        assert_close(mine, expected)


def test_profiles_differ_as_documented():
    rng = np.random.default_rng(2)
    prediction, truth = noisy_pair(rng)
    official, standard = (score(prediction, truth, PROFILES[name]) for name in ("atd12k", "standard"))
    # Data range 2 makes the SSIM constants 4x larger, which lifts SSIM (the spec: "reads higher");
    # rounding to 8 bits moves PSNR.
    assert official.ssim > standard.ssim
    assert official.psnr != standard.psnr
    facts = {name: profile.facts() for name, profile in PROFILES.items()}
    assert facts["atd12k"]["ssim"].startswith("7x7 uniform window") and facts["atd12k"]["rounding"] == "none"
    assert (
        facts["standard"]["rounding"] == "8-bit"
        and facts["rife"]["prediction"] == "not clamped, rounded to 8-bit levels"
    )
    assert facts["gmfss"]["size"] == "960x544" and "github.com/routineLife1/GMFSS" in facts["gmfss"]["source"]
    assert "[0, 1] images as they are" in facts["eisai"]["lpips"]
    assert {p.input_key for p in PROFILES.values()} == {
        PROFILES["atd12k"].input_key,
        PROFILES["rife"].input_key,
        PROFILES["gmfss"].input_key,
    }  # atd12k, eisai and standard share their predictions


def test_eisai_refuses_a_psnr_outside_its_data_range_and_rife_pads_rows():
    rng = np.random.default_rng(7)
    prediction, truth = noisy_pair(rng)
    refused = score(prediction, truth, PROFILES["eisai"])  # values above 1: scikit-image 0.18 raises
    assert refused.psnr is None and "refuses its PSNR" in refused.notes[0] and refused.ssim is not None
    frames = torch.rand(1, 3, 540, 960)
    (padded,), crop = PROFILES["rife"].pad([frames])
    assert padded.shape[-2:] == (544, 960) and torch.equal(padded[..., 2:-2, :], frames)
    assert torch.equal(padded[..., :2, :], frames[..., :1, :].expand(-1, -1, 2, -1))  # replicated rows
    assert torch.equal(crop(padded), frames)
    model = PROFILES["gmfss"].model_frames(np.zeros((3, 540, 960, 3), np.uint8))
    assert model.shape == (3, 544, 960, 3) and model.dtype == np.float32


@pytest.mark.parametrize("profile", PROFILES)
def test_roi_is_scaled_like_the_official_script_and_scored_on_the_crop(profile):
    rng = np.random.default_rng(3)
    prediction, truth = noisy_pair(rng)
    for roi, image_size in (
        ((1001, 333, 251, 101), (1920, 1080)),
        ((100, 50, 400, 300), (1280, 720)),
        ((10.7, 5.2, 300.9, 200.1), (960, 540)),
    ):
        mine, _, prediction_at, truth_at = scored(prediction, truth, profile, roi=roi, image_size=image_size)
        size = PROFILES[profile].scored_size
        x, y, w, h = official_roi(roi, image_size, size)
        assert mine.roi == (x, y, w, h) == scale_roi(roi, image_size, size)
        crop = reference(prediction_at[y : y + h, x : x + w], truth_at[y : y + h, x : x + w], profile)
        assert mine.roi_psnr == pytest.approx(crop["psnr"], abs=TOLERANCE)
        assert mine.roi_ssim == pytest.approx(crop["ssim"], abs=TOLERANCE)
        assert mine.notes == []


def test_roi_outside_the_image_is_clipped_and_reported():
    rng = np.random.default_rng(4)
    prediction, truth = noisy_pair(rng)
    scores = score(prediction, truth, PROFILES["atd12k"], roi=(1800, -40, 400, 300), image_size=(1920, 1080))
    assert scores.roi == (900, 0, 60, 130) == clip_roi((900, -20, 200, 150), (960, 540))
    crop = reference(prediction[0:130, 900:960], truth[0:130, 900:960], "atd12k")
    assert scores.roi_psnr == pytest.approx(crop["psnr"], abs=TOLERANCE)
    assert scores.roi_ssim == pytest.approx(crop["ssim"], abs=TOLERANCE)
    assert "clipped" in scores.notes[0]

    outside = score(prediction, truth, PROFILES["atd12k"], roi=(5000, 5000, 100, 100), image_size=(1920, 1080))
    assert outside.roi_psnr is None and outside.roi_ssim is None and any("empty" in n for n in outside.notes)


@pytest.mark.parametrize("profile, side", [("atd12k", 6), ("standard", 10), ("rife", 10)])
def test_roi_smaller_than_the_ssim_window_keeps_psnr_and_reports(profile, side):
    rng = np.random.default_rng(5)
    prediction, truth = noisy_pair(rng)
    scores = score(prediction, truth, PROFILES[profile], roi=(100, 100, side, 40))
    window = PROFILES[profile].ssim_window
    assert scores.roi_ssim is None and f"smaller than the {window}x{window} SSIM window" in scores.notes[0]
    crop = reference(prediction[100:140, 100 : 100 + side], truth[100:140, 100 : 100 + side], profile, with_ssim=False)
    assert scores.roi_psnr == pytest.approx(crop["psnr"], abs=TOLERANCE)
    assert score(prediction, truth, PROFILES[profile], roi=(100, 100, side + 1, 40)).roi_ssim is not None


@pytest.mark.parametrize("profile", PROFILES)
def test_an_exact_prediction_has_infinite_psnr(profile):
    truth = unit_float32(np.random.default_rng(6).integers(0, 256, (64, 96, 3), dtype=np.uint8))
    scores = score(truth, truth, PROFILES[profile], roi=(10, 10, 30, 30))  # what `repeat` gives on a held drawing
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
    frame1, frame2, frame3 = (unit_float32(f) for f in frames[:3])
    blend = (frame1 + frame3) / 2
    cases = [(blend, frame2), (frame1, frame2), (unit_float32(frames[3]), unit_float32(frames[4]))]
    for prediction, truth in cases:
        mine, expected, prediction_at, truth_at = scored(
            prediction, truth, profile, roi=(700, 300, 800, 500), image_size=(1920, 1080)
        )
        assert_close(mine, expected)
        x, y, w, h = official_roi((700, 300, 800, 500), (1920, 1080), PROFILES[profile].scored_size)
        crop = reference(prediction_at[y : y + h, x : x + w], truth_at[y : y + h, x : x + w], profile)
        assert mine.roi_psnr == pytest.approx(crop["psnr"], abs=TOLERANCE)
        assert mine.roi_ssim == pytest.approx(crop["ssim"], abs=TOLERANCE)
