"""The protocols of published ATD-12K scorers, one :class:`Profile` each, quirks included.

A profile fixes everything that moves a number: the frames the method sees (their size, a resize
or a padding), how the prediction and the ground truth are prepared (clamped, rounded to 8 bits,
resized), the SSIM variant, the PSNR data range, how LPIPS is fed. Each names the published
source it reproduces (``run.json`` and the summary record it); docs/bench.md tabulates them.

Profiles whose methods see the same frames (:attr:`Profile.input_key`) share one prediction per
triplet: ``atd12k``, ``standard`` and ``eisai`` score one prediction; ``rife`` pads the frames
and ``gmfss`` resizes them, so the method runs again for each of those.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F

from atdkit.benchmark.scoring.ssim import DESCRIPTIONS, WINDOWS

SIZE = (960, 540)  # (W, H) the released test set's frames (test_2k_540p)


@dataclass(frozen=True)
class Source:
    """The published scorer a profile reproduces."""

    repository: str
    path: str
    commit: str

    def __str__(self) -> str:
        return f"github.com/{self.repository}, {self.path} at {self.commit[:7]}"


@dataclass(frozen=True)
class Profile:
    name: str
    summary: str
    source: Source | None
    ssim: str  # a variant of atdkit.benchmark.scoring.ssim
    size: tuple[int, int] = SIZE  # (W, H) frames are brought to (Pillow Lanczos, as the official 540p frames)
    model_multiple: int | None = None  # frames and truth bilinear-resized up to a multiple of this (GMFSS: 960x544)
    pad_multiple: int | None = None  # rows replicate-padded to a multiple of this, half above, half below (RIFE)
    clamp: bool = True  # prediction clamped to [0, 1]
    round_to_8bit: bool = False  # prediction rounded to 8-bit levels
    round_truth: bool = False  # the resized truth rounded to 8-bit levels
    psnr_range: str = "1"  # "1", or "skimage-0.18": inferred from the prediction (1, or 2 when it has negatives)
    lpips_scale: str = "signed"  # LPIPS fed [-1, 1] (its documented use) or "unit": [0, 1] as it is
    lpips_unrounded: bool = False  # LPIPS of the unrounded prediction and truth (GMFSS)

    @property
    def ssim_window(self) -> int:
        """The smallest image (or RoI) SSIM can score under this profile."""
        return WINDOWS[self.ssim]

    @property
    def scored_size(self) -> tuple[int, int]:
        """(W, H) the method sees and the scores are computed at."""
        if self.model_multiple is None:
            return self.size
        return tuple(-(-side // self.model_multiple) * self.model_multiple for side in self.size)

    @property
    def input_key(self) -> tuple:
        """Profiles with equal keys feed the method the same frames and share its prediction."""
        return self.size, self.model_multiple, self.pad_multiple

    def at_size(self, size: tuple[int, int]) -> Profile:
        return replace(self, size=tuple(size))

    def facts(self) -> dict:
        """What a results file records so that its numbers can be reproduced."""
        width, height = self.scored_size
        frames = f"{self.size[0]}x{self.size[1]}, Pillow Lanczos (antialiased) when the data is another size"
        if self.model_multiple:
            frames += f"; then frames and truth resized bilinearly to {width}x{height} (align_corners=False)"
        if self.pad_multiple:
            frames += f"; rows replicate-padded to a multiple of {self.pad_multiple}, half above, half below"
        prediction = ("clamped to [0, 1]" if self.clamp else "not clamped") + (
            ", rounded to 8-bit levels" if self.round_to_8bit else ", not rounded"
        )
        return {
            "name": self.name,
            "summary": self.summary,
            "source": str(self.source) if self.source else "atdkit",
            "resize": frames,
            "size": f"{width}x{height}",
            "prediction": prediction,
            "truth": "8-bit frame / 255" + (" after the resize, rounded to 8-bit levels" if self.round_truth else ""),
            "rounding": "8-bit" if self.round_to_8bit else "none",
            "psnr": "data range 1"
            if self.psnr_range == "1"
            else (
                "data range inferred from the prediction as scikit-image 0.18 does: 1, or 2 when it has negative "
                "values; refused when it leaves [-1, 1]"
            ),
            "ssim": DESCRIPTIONS[self.ssim],
            "lpips": (
                "fed [0, 1] images as they are (not lpips's documented [-1, 1])"
                if self.lpips_scale == "unit"
                else "fed images scaled to [-1, 1] (lpips's documented use)"
            )
            + ("; unrounded prediction and truth" if self.lpips_unrounded else ""),
            "roi": f"scaled to {width}x{height} by floor division (x // (W / {width}), y // (H / {height}), "
            "width and height alike), clipped to the image",
            "ie": "mean over pixels of the RGB Euclidean distance on the 0-255 scale",
        }

    # ------------------------------------------------------------------ what the method sees

    def model_frames(self, frames: np.ndarray) -> np.ndarray:
        """The triplet's frames (uint8 (3, H, W, 3) at :attr:`size`) as the method gets them and the truth is
        taken from: float32 (3, h, w, 3) in [0, 1], resized when the profile resizes."""
        frames = unit_float32(frames)
        if self.model_multiple is None:
            return frames
        width, height = self.scored_size
        tensor = torch.from_numpy(frames).permute(0, 3, 1, 2)
        resized = F.interpolate(tensor, size=(height, width), mode="bilinear", align_corners=False)
        return resized.permute(0, 2, 3, 1).numpy()

    def pad(self, tensors: list[torch.Tensor | None]) -> tuple[list[torch.Tensor | None], callable]:
        """(B, C, H, W) tensors padded as the profile pads them, and the function that crops an output back."""
        if self.pad_multiple is None:
            return tensors, lambda out: out
        height = next(t for t in tensors if t is not None).shape[-2]
        extra = -height % self.pad_multiple
        top, bottom = extra // 2, extra - extra // 2
        padded = [None if t is None else F.pad(t, (0, 0, top, bottom), mode="replicate") for t in tensors]
        return padded, lambda out: out[..., top : top + height, :]

    # ------------------------------------------------------------------ what is scored

    def prepare(self, prediction: np.ndarray) -> np.ndarray:
        """The prediction as scored: float64, clamped and rounded when the profile says so."""
        out = np.asarray(prediction, np.float64)
        if self.clamp:
            out = np.clip(out, 0.0, 1.0)
        return eight_bit(out) if self.round_to_8bit else out

    def truth(self, model_frame: np.ndarray) -> np.ndarray:
        """The ground truth as scored, from its frame as :meth:`model_frames` gives it."""
        truth = np.asarray(model_frame, np.float64)
        return eight_bit(truth) if self.round_truth else truth

    def psnr_data_range(self, prediction: np.ndarray) -> float | None:
        """The PSNR data range for this prediction; None when the profile's scorer refuses it."""
        if self.psnr_range == "1":
            return 1.0
        low, high = float(prediction.min()), float(prediction.max())
        if high > 1.0 or low < -1.0:
            return None
        return 1.0 if low >= 0 else 2.0


def unit_float32(values: np.ndarray) -> np.ndarray:
    """8-bit values (0-255) as float32 in [0, 1], as torchvision's ToTensor gives them: what methods are fed."""
    return np.asarray(values, np.float32) / np.float32(255.0)


def eight_bit(image: np.ndarray) -> np.ndarray:
    """``image`` rounded to 8-bit levels, as float64 holding exactly what an 8-bit truth holds (so that a method
    returning its input unchanged matches the truth exactly: infinite PSNR).

    Scaled in float32, as the scorers' tensors are: the mean of two 8-bit frames lies on a half level
    wherever their levels' sum is odd, and which way such a tie rounds depends on that arithmetic
    (in float64 it moves RIFE's PSNR of ``blend`` by up to 0.008 dB)."""
    return unit_float32(np.round(np.asarray(image, np.float32) * np.float32(255.0))).astype(np.float64)


ANIMEINTERP = Source(
    "lisiyao21/AnimeInterp", "test_anime_sequence_one_by_one.py", "dde4164c1e4608ae7d463729070c028d5114ad66"
)
RIFE = Source("megvii-research/ECCV2022-RIFE", "benchmark/ATD12K.py", "f6d90d988d74845a7a77c59ce6ee9b3e33cb412d")
EISAI = Source(
    "ShuhongChen/eisai-anime-interpolator", "_scripts/evaluate.py", "350d2418a0dd42784c19cf10dfdc420406718f00"
)
GMFSS = Source("routineLife1/GMFSS", "eval.py", "a8e53bf4a3d50d54dca1e619124b53471e2ca118")

PROFILES = {
    profile.name: profile
    for profile in (
        Profile(
            "atd12k",
            "official ATD-12K protocol (AnimeInterp's test script, the paper's Table 1)",
            ANIMEINTERP,
            ssim="uniform",
        ),
        Profile(
            "rife",
            "ECCV2022-RIFE's ATD-12K benchmark: 2-px replicate rows, 8-bit prediction, MATLAB-style SSIM",
            RIFE,
            ssim="matlab",
            pad_multiple=32,
            clamp=False,
            round_to_8bit=True,
        ),
        Profile(
            "eisai",
            "EISAI's evaluation: raw prediction, scikit-image 0.18 PSNR/SSIM, LPIPS fed [0, 1]",
            EISAI,
            ssim="uniform",
            clamp=False,
            psnr_range="skimage-0.18",
            lpips_scale="unit",
        ),
        Profile(
            "gmfss",
            "GMFSS's evaluation: frames and truth resized to 960x544, 8-bit, MATLAB-style SSIM",
            GMFSS,
            ssim="matlab",
            model_multiple=32,
            clamp=False,
            round_to_8bit=True,
            round_truth=True,
            lpips_unrounded=True,
        ),
        Profile(
            "standard",
            "8-bit prediction, Gaussian SSIM (later VFI code bases)",
            None,
            ssim="gaussian",
            round_to_8bit=True,
        ),
    )
}
DEFAULT_PROFILE = "atd12k"
