"""atdkit's AnimeInterp against your checkout of the official code: same inputs, seconds and largest differences.

    python tools/speed/against_official.py OFFICIAL_REPO [FRAME0 FRAME1] [--style japan] [--size 540x960]

OFFICIAL_REPO is a checkout of github.com/lisiyao21/AnimeInterp (not part of atdkit; nothing of
it is copied). Its 2020 code is run on the CPU under today's libraries by adapting them while it
runs, not by editing it: ``.cuda()`` leaves tensors where they are, ``grid_sample`` gets the
``align_corners=True`` the code was written for (PyTorch <= 1.1), OpenCV 4's ``findContours``
and DIS are given the OpenCV 3 names it calls, NumPy's removed ``np.float``/``np.bool`` return,
and ``cupy``/``torch_scatter`` (and ``torchvision`` when absent) are replaced by small CPU
stand-ins; the official CuPy splatting is never called (``AnimeInterpNoCupy``).

Compared, with the same random weights: the network forward (frame and both flows) at
``--size``; SGM's label maps (the official segmentation: line map, trapped-ball fill, merge,
thinning); SGM's guide flows, the official flow generation fed atdkit's matches (the official
script computes its matching degree inside its ``__main__``, which is not importable).
Frames default to the real keyframe pair in ../shared/data, resized to 960x540.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import time
import types
import warnings
from pathlib import Path

import cv2
import numpy as np
import scipy.ndimage  # noqa: F401  (imported before NumPy's old aliases come back, which they would break)
import skimage.filters  # noqa: F401
import torch
import torch.nn.functional as F
from sgm_pair import read
from standins import put_back

from atdkit.benchmark.methods.animeinterp import AnimeInterp
from atdkit.benchmark.methods.animeinterp.sgm import VGGFeatures, guide_flows, match_pieces
from atdkit.benchmark.methods.animeinterp.sgm.segmentation import segment

REPO = Path(__file__).resolve().parents[2]
PAIR = [
    REPO.parent / "shared" / "data" / "pairs" / "anime_keyframes_640x540" / f"konobi12_panel_{n}.png"
    for n in ("009", "018")
]
LINE_ARGUMENTS = {
    "japan": (2, 20, [10, 10, 10]),
    "western": (1, 20, [30, 40, 30]),
}  # what the official script chose per folder


def scatter_stand_in() -> types.ModuleType:
    """``torch_scatter``'s scatter_add and scatter_mean, as the official SGM calls them."""
    module = types.ModuleType("torch_scatter")

    def scatter_add(src, index, dim=-1):
        shape = list(src.shape)
        shape[dim] = int(index.max()) + 1
        return torch.zeros(shape, dtype=src.dtype).index_add_(dim, index, src)

    def scatter_mean(src, index, dim=-1):
        counts = torch.bincount(index, minlength=int(index.max()) + 1).clamp(min=1).to(src.dtype)
        shape = [1] * src.dim()
        shape[dim] = -1
        return scatter_add(src, index, dim) / counts.view(shape)

    module.scatter_add, module.scatter_mean = scatter_add, scatter_mean
    return module


def torchvision_stand_in() -> types.ModuleType:
    """The two transforms the official SGM script imports (ToTensor on float images, Normalize)."""
    module, transforms = types.ModuleType("torchvision"), types.ModuleType("torchvision.transforms")
    transforms.ToTensor = lambda: lambda image: torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))
    transforms.Normalize = lambda mean, std: (
        lambda x: (x - torch.tensor(mean).view(3, 1, 1)) / torch.tensor(std).view(3, 1, 1)
    )
    module.transforms = transforms
    return module


def opencv3_names() -> types.SimpleNamespace:
    """cv2 as the official code calls it: OpenCV 3's three-value findContours and cv2.optflow's DIS."""
    names = types.SimpleNamespace(**{name: getattr(cv2, name) for name in dir(cv2) if not name.startswith("__")})
    names.findContours = lambda *args, **kwargs: (None, *cv2.findContours(*args, **kwargs))
    names.optflow = types.SimpleNamespace(
        createOptFlow_DIS=cv2.DISOpticalFlow_create, DISOpticalFlow_PRESET_MEDIUM=cv2.DISOPTICAL_FLOW_PRESET_MEDIUM
    )
    return names


@contextlib.contextmanager
def official_code(repo: Path):
    """The official modules importable and runnable on this CPU, for the duration of the block."""
    stand_ins = {
        "cupy": types.SimpleNamespace(util=types.SimpleNamespace(memoize=lambda **_: lambda f: f)),
        "torch_scatter": scatter_stand_in(),
    }
    try:
        import torchvision  # noqa: F401
    except ImportError:
        stand_ins.update(
            {"torchvision": torchvision_stand_in(), "torchvision.transforms": torchvision_stand_in().transforms}
        )
    saved_modules = {name: sys.modules.get(name) for name in stand_ins}
    sys.modules.update(stand_ins)
    sys.path[:0] = [str(repo), str(repo / "models" / "sgm_model")]
    saved = (torch.Tensor.cuda, F.grid_sample)
    torch.Tensor.cuda = lambda self, *args, **kwargs: self
    F.grid_sample = lambda image, grid, mode="bilinear", padding_mode="zeros", align_corners=True: saved[1](
        image, grid, mode, padding_mode, align_corners
    )
    np.float, np.bool, np.int = float, bool, int
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # its deprecated calls (autocast, meshgrid) warn on every pass
            yield
    finally:
        torch.Tensor.cuda, F.grid_sample = saved
        for name in ("float", "bool", "int"):
            delattr(np, name)
        del sys.path[:2]
        put_back(saved_modules)


def timed(run):
    started = time.perf_counter()
    result = run()
    return result, time.perf_counter() - started


def compare_network(size: tuple[int, int]) -> None:
    from models.AnimeInterp_no_cupy import AnimeInterpNoCupy

    height, width = size
    torch.manual_seed(0)
    official = AnimeInterpNoCupy(path=None).eval()
    with torch.no_grad():
        for parameter in official.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.01)  # no zero biases: every weight matters
    ours = AnimeInterp()
    ours.load_state_dict(official.state_dict(), strict=True)
    ours.eval()
    generator = torch.Generator().manual_seed(1)
    frame0, frame1 = (torch.rand(1, 3, height, width, generator=generator) for _ in range(2))
    flow01, flow10 = (torch.randn(1, 2, height, width, generator=generator) * 3 for _ in range(2))
    with torch.no_grad():
        expected, official_seconds = timed(lambda: official(frame0, frame1, flow01.clone(), flow10.clone(), 0.5))
        (found, first), (_, second) = (
            timed(lambda: ours(frame0, frame1, flow01.clone(), flow10.clone(), 0.5)) for _ in range(2)
        )
        our_seconds = min(first, second)  # the official code runs once: it is the slow one
    differences = [float((a - b).abs().max()) for a, b in zip(found, expected[:3])]
    print(
        f"network at {width}x{height}: official {official_seconds:.2f} s, atdkit {our_seconds:.2f} s "
        f"(best of 2; {official_seconds / our_seconds:.1f}x); "
        f"largest differences: frame {differences[0]:.2g}, "
        f"flow 0->1 {differences[1]:.2g} px, flow 1->0 {differences[2]:.2g} px"
    )


def compare_sgm(paths: list[Path], style: str) -> None:
    import gen_sgm
    import linefiller.trappedball_fill as trapped_ball

    gen_sgm.cv2 = trapped_ball.cv2 = opencv3_names()
    rgb = [read(path) for path in paths]
    bgr = [np.ascontiguousarray(image[:, :, ::-1]) for image in rgb]  # as the official script reads frames

    def official_labels(image):
        with contextlib.redirect_stdout(io.StringIO()):
            line = gen_sgm.dline_of(image, *LINE_ARGUMENTS[style]).astype(np.uint8)
            _, binary = cv2.threshold(line, 220, 255, cv2.THRESH_BINARY)
            return gen_sgm.squeeze_label_map(gen_sgm.trapped_ball_processed(binary, image))

    expected, official_seconds = timed(lambda: [official_labels(image) for image in bgr])
    segment(rgb[0], style)  # warm-up
    found, our_seconds = timed(lambda: [segment(image, style) for image in rgb])
    same = [np.array_equal(a, b) for a, b in zip(found, expected)]
    print(
        f"SGM segmentation of both frames: official {official_seconds:.2f} s, atdkit {our_seconds:.2f} s "
        f"({official_seconds / our_seconds:.1f}x); "
        f"{len(np.unique(found[0]))} and {len(np.unique(found[1]))} pieces; "
        f"label maps identical: {same[0]} and {same[1]}"
    )

    torch.manual_seed(0)
    vgg = VGGFeatures().eval()
    labels0, labels1 = found
    matches = match_pieces(vgg(*rgb), labels0, labels1)
    flow01, flow10 = guide_flows(rgb[0], rgb[1], matches)
    gen_sgm.maxPixNum = labels0.size
    centres0, centres1 = (
        (matches.pieces0.centre_x, matches.pieces0.centre_y),
        (matches.pieces1.centre_x, matches.pieces1.centre_y),
    )
    match01, rank01, match10, rank10 = (
        torch.from_numpy(a) for a in (matches.match01, matches.rank_sum01, matches.match10, matches.rank_sum10)
    )
    with contextlib.redirect_stdout(io.StringIO()):
        (official01, _), seconds01 = timed(
            lambda: gen_sgm.get_guidance_flow(
                labels0, labels1, bgr[0], bgr[1], rank01, match01, None, *centres0, *centres1
            )
        )
        (official10, _), seconds10 = timed(
            lambda: gen_sgm.get_guidance_flow(
                labels1, labels0, bgr[1], bgr[0], rank10, match10, None, *centres1, *centres0
            )
        )
    print(
        f"SGM flow generation from the same matches ({int((rank01 <= 0).sum())} mutual): "
        f"official {seconds01 + seconds10:.2f} s; "
        f"largest differences: flow 0->1 {np.abs(flow01 - official01).max():.2g} px, "
        f"flow 1->0 {np.abs(flow10 - official10).max():.2g} px"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("official", type=Path, help="checkout of github.com/lisiyao21/AnimeInterp")
    parser.add_argument("frames", nargs="*", type=Path, default=PAIR)
    parser.add_argument("--style", default="japan", choices=tuple(LINE_ARGUMENTS))
    parser.add_argument("--size", default="540x960", help="HxW of the network comparison (default 540x960)")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    args = parser.parse_args()
    if not (args.official / "models" / "AnimeInterp_no_cupy.py").exists():
        sys.exit(f"{args.official}: not a checkout of the official AnimeInterp code (no models/AnimeInterp_no_cupy.py)")
    if len(args.frames) != 2:
        sys.exit("give two frames (or none for the default pair)")
    torch.set_num_threads(args.threads)
    height, width = (int(side) for side in args.size.split("x"))
    print(
        f"atdkit against {args.official.resolve()} on the CPU, {args.threads} threads, "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    with official_code(args.official):
        compare_sgm(args.frames, args.style)
        compare_network((height, width))


if __name__ == "__main__":
    main()
