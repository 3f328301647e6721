"""atdkit's scoring profiles against the published ATD-12K scorers: same predictions, largest differences, seconds.

    python tools/speed/against_scorers.py [--rife RIFE_REPO] [--gmfss GMFSS_REPO] [--eisai EISAI_REPO]

Each REPO is your checkout of the scorer's repository (none of it is part of atdkit or copied into it):

- ``--rife``: github.com/megvii-research/ECCV2022-RIFE. Its ``benchmark/ATD12K.py`` is run as it is, in
  a scratch folder holding ``datasets/test_2k_540p/``; ``model.RIFE`` is a stand-in whose ``Model``
  returns the prediction under test (the script pads the frames and crops the output itself).
- ``--gmfss``: github.com/routineLife1/GMFSS. Its ``eval.py`` is run as it is, in a scratch folder
  holding ``dataset/``, with a stand-in ``model.GMFSS``. The repository lacks the two modules the
  script imports: ``model.pytorch_msssim`` is RIFE's (so ``--gmfss`` needs ``--rife``) and ``model.lpips``
  is the ``lpips`` package. Its ``os.listdir`` order of frames is made name order.
- ``--eisai``: github.com/ShuhongChen/eisai-anime-interpolator. The metrics its
  ``_scripts/evaluate.py`` builds (``PSNRMetricCPU``, ``SSIMMetricCPU``, ``LPIPSMetric('alex')``,
  ``ChamferDistance2dMetric(t=2.0, sigma=1.0)`` from ``_util/``) are called on each prediction (the
  script itself needs the EISAI model and its database). It was written for scikit-image 0.18:
  ``multichannel=True`` becomes ``channel_axis=2``, and a float image's data range is inferred as 0.18
  inferred it (2, the float dtype's [-1, 1]); ``torchmetrics.Metric`` is a small stand-in; the CuPy
  distance-transform kernel is not compiled (on the CPU its SciPy transform runs).

LPIPS runs the real ``lpips`` package (``pip install --no-deps lpips``) over a stand-in
``torchvision.models.alexnet`` whose layers load a seeded random backbone file, the same file atdkit
reads. Predictions: ``blend``, ``dis-warp`` and a blend with Gaussian noise (sigma 0.02, seeded) that leaves
[0, 1], on real frames: the 1080p triplet of ../shared/data and triplets of consecutive drawings of
the clip *Hero*, resized to 960x540.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import os
import runpy
import shutil
import sys
import tempfile
import time
import types
import warnings
from pathlib import Path

import cv2
import numpy as np
import skimage.metrics
import torch
from perceptual_overhead import random_alexnet
from standins import put_back

from atdkit.benchmark.layers.imagenet import alexnet_features
from atdkit.benchmark.methods.dis_warp import interpolate_pair
from atdkit.benchmark.scoring.lpips import LPIPS
from atdkit.benchmark.scoring.profiles import PROFILES, unit_float32
from atdkit.benchmark.scoring.scores import Perceptual, score
from atdkit.images import read_rgb, resize_lanczos
from atdkit.video import open_video

REPO = Path(__file__).resolve().parents[2]
DATA = REPO.parent / "shared" / "data"
SIZE = (960, 540)


# --- inputs -------------------------------------------------------------------------------------------------


def real_triplets(count: int) -> dict[str, np.ndarray]:
    """Triplet id -> uint8 frames (3, 540, 960, 3): the 1080p triplet, then consecutive drawings of Hero."""
    folder = DATA / "triplets" / "ccvfi_dragon_1080p"
    triplets = {"dragon_1080p": np.stack([resize_lanczos(read_rgb(folder / f"frame{n}.png"), SIZE) for n in (1, 2, 3)])}
    drawings: list[np.ndarray] = []
    for frame in open_video(DATA / "clips" / "hero_grease_pencil_twos.webm").frames():
        rgb = frame.rgb()
        if not drawings or np.abs(rgb.astype(np.int16) - drawings[-1]).mean() > 1.0:
            drawings.append(rgb)
    for start in range(0, len(drawings) - 2, 9)[: count - 1]:
        triplets[f"hero_{start:03d}"] = np.stack([resize_lanczos(d, SIZE) for d in drawings[start : start + 3]])
    return triplets


def noise(shape: tuple[int, ...]) -> np.ndarray:
    return np.random.default_rng(shape[0] * 10_000 + shape[1]).normal(0, 0.02, shape).astype(np.float32)


PREDICTORS = {  # float32 RGB (H, W, 3) frames in [0, 1] -> the middle frame, unclamped
    "blend": lambda a, b: (a + b) / 2,
    "dis-warp": interpolate_pair,
    "noisy blend": lambda a, b: (a + b) / 2 + noise(a.shape),
}


# --- run-time adaptations --------------------------------------------------------------------------------


@contextlib.contextmanager
def modules(**replacements: types.ModuleType):
    """``sys.modules`` entries set for a while (dots written as ``__``), then restored."""
    names = {name.replace("__", "."): module for name, module in replacements.items()}
    saved = {name: sys.modules.get(name) for name in names}
    sys.modules.update(names)
    try:
        yield
    finally:
        put_back(saved)


def reference_lpips(backbone: Path):
    """The ``lpips`` package, imported over a stand-in torchvision, and a factory of its AlexNet LPIPS with
    ``backbone``'s weights in the trunk."""
    models = types.SimpleNamespace(
        alexnet=lambda pretrained=False, **_: types.SimpleNamespace(features=alexnet_features())
    )
    torchvision = types.ModuleType("torchvision")
    torchvision.models = models
    with modules(torchvision=torchvision, torchvision__models=models):
        import lpips
    state = torch.load(backbone, weights_only=True)

    def build(net: str = "alex", **_):
        model = lpips.LPIPS(net=net, pnet_rand=True, verbose=False)
        model.net.load_state_dict({name: state[f"features.{name.split('.', 1)[1]}"] for name in model.net.state_dict()})
        return model.eval()

    return lpips, build, torchvision, models


def bgr_tensor_to_rgb(tensor: torch.Tensor) -> np.ndarray:
    return tensor[0].flip(0).permute(1, 2, 0).float().cpu().numpy()


def rgb_to_bgr_tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).flip(0)[None].float()


def write_triplets(folder: Path, triplets: dict[str, np.ndarray]) -> None:
    for triplet_id, frames in triplets.items():
        (folder / triplet_id).mkdir(parents=True)
        for n, frame in enumerate(frames, 1):
            cv2.imwrite(str(folder / triplet_id / f"frame{n}.png"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))


# --- the scorers, run -------------------------------------------------------------------------------------


class StandInModel:
    """What the RIFE and GMFSS scripts call on their model besides ``inference`` (BGR tensors in and out)."""

    def load_model(self, *_):
        pass

    def eval(self):
        pass

    def device(self):
        pass


def run_rife(checkout: Path, triplets: dict, predictor, scratch: Path) -> dict[str, dict]:
    """benchmark/ATD12K.py as published: triplet id -> its psnr and ssim."""

    class Model(StandInModel):  # ATD12K.py pads 2 rows above and below and crops them off the output
        def inference(self, img0, img1):
            a, b = bgr_tensor_to_rgb(img0[..., 2:-2, :]), bgr_tensor_to_rgb(img1[..., 2:-2, :])
            return torch.nn.functional.pad(rgb_to_bgr_tensor(predictor(a, b)), (0, 0, 2, 2))

    write_triplets(scratch / "datasets" / "test_2k_540p", triplets)
    rife = types.ModuleType("model.RIFE")
    rife.Model = Model
    with modules(model__RIFE=rife), working_directory(scratch), on_path(checkout):
        found = runpy.run_path(str(checkout / "benchmark" / "ATD12K.py"), run_name="__main__")
    return {d: {"psnr": p, "ssim": float(s)} for d, p, s in zip(found["dirs"], found["psnr_list"], found["ssim_list"])}


def run_gmfss(checkout: Path, rife_checkout: Path, triplets: dict, predictor, scratch: Path, lpips_build) -> dict:
    """eval.py as published: triplet id -> its psnr, ssim and lpips."""

    class Model(StandInModel):
        def inference(self, img0, img1):
            return rgb_to_bgr_tensor(predictor(bgr_tensor_to_rgb(img0), bgr_tensor_to_rgb(img1)))

    shutil.copy(checkout / "eval.py", scratch / "eval.py")  # it finds dataset/ beside itself
    write_triplets(scratch / "dataset", triplets)
    gmfss = types.ModuleType("model.GMFSS")
    gmfss.Model = Model
    lpips_module = types.ModuleType("model.lpips")
    lpips_module.LPIPS = lpips_build
    spec = importlib.util.spec_from_file_location(
        "model.pytorch_msssim", rife_checkout / "model" / "pytorch_msssim" / "__init__.py"
    )
    msssim = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(msssim)
    model = types.ModuleType("model")
    model.__path__ = []
    listdir = os.listdir
    with (
        modules(model=model, model__GMFSS=gmfss, model__lpips=lpips_module, model__pytorch_msssim=msssim),
        working_directory(scratch),
    ):
        os.listdir = lambda path=".": sorted(listdir(path))  # name order: frame1, frame2, frame3
        try:
            found = runpy.run_path(str(scratch / "eval.py"), run_name="__main__")
        finally:
            os.listdir = listdir
    return {
        Path(row["path"]).name: {"psnr": row["psnr"], "ssim": float(row["ssim"]), "lpips": float(row["lpips"])}
        for row in found["loss_list"]
    }


def eisai_metrics(checkout: Path, lpips_module, lpips_build, torchvision, models):
    """The four metric objects EISAI's evaluate.py builds, from the checkout's _util modules."""

    class Metric(torch.nn.Module):  # torchmetrics.Metric, as far as these metrics use it
        def __init__(self, **_):
            super().__init__()

        def add_state(self, name, default, dist_reduce_fx=None):
            setattr(self, name, default.clone())

    torchmetrics = types.ModuleType("torchmetrics")
    torchmetrics.Metric = Metric
    lpips_stand_in = types.ModuleType("lpips")
    lpips_stand_in.LPIPS = lpips_build
    with (
        modules(torchmetrics=torchmetrics, lpips=lpips_stand_in, torchvision=torchvision, torchvision__models=models),
        on_path(checkout),
    ):
        import _util.distance_transform_v0 as udist
        import _util.pytorch_v0 as utorch
    utorch.skimage = scikit_image_018()
    udist._batch_edt = "not compiled"  # batch_edt compiles its CuPy kernel first, even for the SciPy path it takes
    return {
        "psnr": utorch.PSNRMetricCPU,
        "ssim": utorch.SSIMMetricCPU,
        "lpips": lambda: utorch.LPIPSMetric(net_type="alex"),
        "cd": lambda: udist.ChamferDistance2dMetric(t=2.0, sigma=1.0),
    }


def scikit_image_018() -> types.SimpleNamespace:
    """scikit-image's metrics as 0.18 took EISAI's arguments: ``multichannel``, and the data range of a float
    image inferred from its dtype (2) when not given."""

    def structural_similarity(im1, im2, *, multichannel=False, data_range=None, **kwargs):
        if data_range is None and np.issubdtype(im1.dtype, np.floating):
            data_range = 2.0
        return skimage.metrics.structural_similarity(
            im1, im2, channel_axis=2 if multichannel else None, data_range=data_range, **kwargs
        )

    return types.SimpleNamespace(
        metrics=types.SimpleNamespace(
            structural_similarity=structural_similarity, peak_signal_noise_ratio=skimage.metrics.peak_signal_noise_ratio
        )
    )


def run_eisai(metrics: dict, triplets: dict, predictor) -> dict[str, dict]:
    found = {}
    for triplet_id, frames in triplets.items():
        a, truth, b = unit_float32(frames)
        pred, gt = (torch.from_numpy(np.ascontiguousarray(x)).permute(2, 0, 1)[None] for x in (predictor(a, b), truth))
        found[triplet_id] = {}
        for name, build in metrics.items():
            metric = build()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    metric.update(pred, gt)
                except ValueError:  # scikit-image refuses a PSNR whose inferred data range the prediction leaves
                    found[triplet_id][name] = None
                    continue
            found[triplet_id][name] = float(metric.compute())
    return found


@contextlib.contextmanager
def working_directory(path: Path):
    before = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


@contextlib.contextmanager
def on_path(path: Path):
    sys.path.insert(0, str(path))
    try:
        yield
    finally:
        sys.path.remove(str(path))


# --- atdkit ------------------------------------------------------------------------------------------------


def atdkit_scores(profile_name: str, triplets: dict, predictor, perceptual: Perceptual | None) -> dict[str, dict]:
    profile = PROFILES[profile_name]
    found = {}
    for triplet_id, frames in triplets.items():
        a, truth, b = profile.model_frames(frames)
        scores = score(predictor(a, b), truth, profile, perceptual)
        found[triplet_id] = {"psnr": scores.psnr, "ssim": scores.ssim, "lpips": scores.lpips, "cd": scores.cd}
    return found


def largest(reference: dict, ours: dict) -> dict[str, str]:
    """Per metric: the largest absolute difference over the triplets, and how many both refused to score
    (a triplet only one side refused counts as an infinite difference)."""
    gaps: dict[str, float] = {}
    refused: dict[str, int] = {}
    for triplet_id, values in reference.items():
        for metric, value in values.items():
            mine = ours[triplet_id][metric]
            if value is None and mine is None:
                refused[metric] = refused.get(metric, 0) + 1
                gaps.setdefault(metric, 0.0)
                continue
            gap = float("inf") if value is None or mine is None else abs(value - mine)
            gaps[metric] = max(gaps.get(metric, 0.0), gap)
    return {m: f"{g:.1e}" + (f" ({refused[m]} refused by both)" if m in refused else "") for m, g in gaps.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rife", type=Path, help="checkout of megvii-research/ECCV2022-RIFE")
    parser.add_argument("--gmfss", type=Path, help="checkout of routineLife1/GMFSS (needs --rife)")
    parser.add_argument("--eisai", type=Path, help="checkout of ShuhongChen/eisai-anime-interpolator")
    parser.add_argument("--triplets", type=int, default=6, help="real triplets to score (default 6)")
    args = parser.parse_args()
    if args.gmfss and not args.rife:
        parser.error(
            "--gmfss needs --rife: GMFSS's eval.py imports RIFE's model.pytorch_msssim, which it does not ship"
        )
    if not (args.rife or args.gmfss or args.eisai):
        parser.error("name at least one checkout: --rife, --gmfss, --eisai")
    torch.set_num_threads(os.cpu_count() or 1)
    triplets = real_triplets(args.triplets)
    print(f"{len(triplets)} real triplets at 960x540: {', '.join(triplets)}")
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        backbone = random_alexnet(root / "alexnet-random.pth")
        perceptual = Perceptual({"lpips": LPIPS.from_files("alex", backbone)}, chamfer=True)
        lpips_module, lpips_build, torchvision, models = reference_lpips(backbone)
        eisai = eisai_metrics(args.eisai, lpips_module, lpips_build, torchvision, models) if args.eisai else None
        print(f"{'profile':<8} {'prediction':<12} {'largest differences':<58} {'s/triplet: theirs':>17} {'atdkit':>7}")
        for name, predictor in PREDICTORS.items():
            runs = []
            if args.rife:
                runs.append(("rife", lambda s, p=predictor: run_rife(args.rife, triplets, p, s), None))
            if args.gmfss:
                runs.append(
                    (
                        "gmfss",
                        lambda s, p=predictor: run_gmfss(args.gmfss, args.rife, triplets, p, s, lpips_build),
                        perceptual,
                    )
                )
            if eisai:
                runs.append(("eisai", lambda s, p=predictor: run_eisai(eisai, triplets, p), perceptual))
            for profile, run, ours_perceptual in runs:
                scratch = root / f"{profile}-{len(list(root.iterdir()))}"
                scratch.mkdir()
                started = time.perf_counter()
                with contextlib.redirect_stdout(io.StringIO()):
                    theirs = run(scratch)
                their_seconds = (time.perf_counter() - started) / len(triplets)
                started = time.perf_counter()
                ours = atdkit_scores(profile, triplets, predictor, ours_perceptual)
                our_seconds = (time.perf_counter() - started) / len(triplets)
                gaps = ", ".join(f"{metric} {gap}" for metric, gap in largest(theirs, ours).items())
                print(f"{profile:<8} {name:<12} {gaps:<58} {their_seconds:>17.3f} {our_seconds:>7.3f}")
    print("(seconds include each side's own prediction and, for rife and gmfss, reading the frames)")


if __name__ == "__main__":
    main()
