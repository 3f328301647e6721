"""One triplet's scores under a profile: PSNR, SSIM and interpolation error on the whole frame and the
motion RoI, and the perceptual distances asked for (LPIPS with AlexNet or VGG-16, EISAI's chamfer distance).

The metrics are named as ``atdkit bench --metrics`` names them (:data:`METRICS`); ``psnr``, ``ssim`` and
``ie`` are always computed. The RoI is scaled like the official script, then clipped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from atdkit.benchmark.methods import WeightFile
from atdkit.benchmark.scoring.chamfer import chamfer_distance
from atdkit.benchmark.scoring.lpips import LPIPS
from atdkit.benchmark.scoring.profiles import Profile
from atdkit.benchmark.scoring.ssim import ssim, workspace

ALEXNET = WeightFile(
    key="alexnet",
    filename="alexnet-owt-7be5be79.pth",
    source="torchvision's ImageNet AlexNet weights (download.pytorch.org/models/alexnet-owt-7be5be79.pth)",
)
VGG16 = WeightFile(
    key="vgg16",
    filename="vgg16-397923af.pth",
    source="torchvision's ImageNet VGG-16 weights (download.pytorch.org/models/vgg16-397923af.pth)",
)
BASIC = ("psnr", "ssim", "ie")  # always computed
PERCEPTUAL = ("lpips", "lpips_vgg", "cd")  # the columns of the others
METRICS = {  # name -> (column of per_triplet.parquet, the weight file it needs)
    "psnr": ("psnr", None),
    "ssim": ("ssim", None),
    "ie": ("ie", None),
    "lpips": ("lpips", ALEXNET),
    "lpips-vgg": ("lpips_vgg", VGG16),
    "cd": ("cd", None),
}
LPIPS_NETWORKS = {"lpips": "alex", "lpips-vgg": "vgg"}


@dataclass
class Perceptual:
    """The perceptual distances a run computes: loaded LPIPS networks by metric name, and the chamfer distance."""

    lpips: dict[str, LPIPS] = field(default_factory=dict)
    chamfer: bool = False

    @classmethod
    def load(cls, metrics: list[str], weights: dict[str, Path], device: torch.device) -> Perceptual:
        """The networks of the metrics asked for, from their weight files (``weights`` by key, found already)."""
        lpips = {
            name: LPIPS.from_files(LPIPS_NETWORKS[name], weights[METRICS[name][1].key], device=device)
            for name in metrics
            if name in LPIPS_NETWORKS
        }
        return cls(lpips, "cd" in metrics)


@dataclass
class Scores:
    psnr: float | None
    ie: float
    ssim: float
    roi: tuple[int, int, int, int] | None = None  # the box scored, in pixels of the scored image
    roi_psnr: float | None = None
    roi_ssim: float | None = None
    lpips: float | None = None
    lpips_vgg: float | None = None
    cd: float | None = None
    notes: list[str] = field(default_factory=list)  # what could not be scored as asked, and why


def errors(prediction: np.ndarray, truth: np.ndarray, data_range: float | None) -> tuple[float | None, float]:
    """(PSNR in dB, ``inf`` for identical images, None without a data range; IE as the official script writes
    it: the mean RGB Euclidean distance on the 0-255 scale) of two float images (H, W, 3)."""
    squared = np.subtract(prediction, truth, out=workspace(prediction.shape)[0])
    squared *= squared
    mse = float(squared.mean())
    distance = squared[..., 0] + squared[..., 1]  # a sum over a length-3 last axis is several times slower
    distance += squared[..., 2]
    ie = float(np.sqrt(distance, out=distance).mean()) * 255.0
    if data_range is None:
        return None, ie
    return (math.inf if mse == 0 else 10.0 * math.log10(data_range**2 / mse)), ie


def scale_roi(roi: tuple[float, float, float, float], image_size: tuple[int, int], size: tuple[int, int]):
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


def _lpips_input(image: np.ndarray, profile: Profile, device: torch.device) -> torch.Tensor:
    tensor = torch.from_numpy(np.ascontiguousarray(image, np.float32)).permute(2, 0, 1)[None].to(device)
    return tensor if profile.lpips_scale == "unit" else tensor * 2 - 1


def score(
    prediction: np.ndarray,
    model_truth: np.ndarray,
    profile: Profile,
    perceptual: Perceptual | None = None,
    roi: tuple[float, float, float, float] | None = None,
    image_size: tuple[int, int] | None = None,
) -> Scores:
    """Score a raw prediction (float (H, W, 3), any range, at the profile's scored size) against the truth as
    :meth:`Profile.model_frames` gives it. ``roi`` is (x, y, w, h) in pixels of ``image_size`` (W, H), the
    resolution it was drawn at (default: the scored size)."""
    pred, truth = profile.prepare(prediction), profile.truth(model_truth)
    data_range = profile.psnr_data_range(pred)
    scores = Scores(*errors(pred, truth, data_range), ssim(pred, truth, profile.ssim))
    if data_range is None:
        scores.notes.append(f"prediction outside [-1, 1]: the {profile.name} scorer refuses its PSNR")
    if perceptual is not None:
        if perceptual.lpips:
            first, second = (prediction, model_truth) if profile.lpips_unrounded else (pred, truth)
            for name, network in perceptual.lpips.items():
                device = network.shift.device
                value = float(network(_lpips_input(first, profile, device), _lpips_input(second, profile, device))[0])
                setattr(scores, METRICS[name][0], value)
        if perceptual.chamfer:
            scores.cd = chamfer_distance(pred, truth)
    if roi is None:
        return scores
    height, width = truth.shape[:2]
    scaled = scale_roi(roi, image_size or (width, height), (width, height))
    box = clip_roi(scaled, (width, height))
    scores.roi = box
    if box != scaled:
        scores.notes.append(f"RoI {_box(scaled)} reaches outside the {width}x{height} image: clipped to {_box(box)}")
    x, y, w, h = box
    if w == 0 or h == 0:
        scores.notes.append("RoI is empty: not scored")
        return scores
    pred_roi, truth_roi = pred[y : y + h, x : x + w], truth[y : y + h, x : x + w]
    scores.roi_psnr = errors(pred_roi, truth_roi, profile.psnr_data_range(pred_roi))[0]
    if min(w, h) < profile.ssim_window:
        win = profile.ssim_window
        scores.notes.append(f"RoI {w}x{h} is smaller than the {win}x{win} SSIM window: RoI SSIM not scored")
    else:
        scores.roi_ssim = ssim(pred_roi, truth_roi, profile.ssim)
    return scores


def _box(box: tuple[int, int, int, int]) -> str:
    x, y, w, h = box
    return f"{w}x{h}+{x}+{y}"
