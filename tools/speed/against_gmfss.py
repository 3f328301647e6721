"""atdkit's GMFSS against your checkout of GMFSS_Fortuna: same weights, same frames; largest differences, seconds.

    python tools/speed/against_gmfss.py --repo CHECKOUT [--union] [--size 256x448] [--threads N]

CHECKOUT is a checkout of github.com/98mxr/GMFSS_Fortuna (not part of atdkit; nothing of it is
copied). Its base model (``model/GMFSS_infer_b.py``, what ``inference_video.py`` runs without
``--union``), or with ``--union`` its union model (``model/GMFSS_infer_u.py``), is imported and run
as it is, on the CPU: without CuPy it falls back, by its own code, to its pure-PyTorch splatting
(``model/softsplat_torch.py``), independent of atdkit's (``benchmark/ops/splatting.py``). The one
adaptation: that module sets ``torch.set_float32_matmul_precision("medium")`` when imported, which
this script puts back to "highest" (both models then run in full float32).

Weights: the files of the release folder (flownet.pkl, metric.pkl, feat.pkl, fusionnet.pkl; the
union's also rife.pkl, RIFE 4.6's IFNet), written from the original modules' own state dicts with
seeded random values (every parameter perturbed, so none keeps a neutral initial value; the last
convolution scaled so the frame spreads over (0, 1) rather than sitting at the clamp), loaded by the
original's ``load_model`` and by atdkit's ``GMFSS.from_folder`` (``GMFSSUnion.from_folder``). Frames:
frame1 and frame3 of the real triplet in ../shared/data/triplets/ccvfi_dragon_1080p, resized to
``--size`` (sides multiples of 64).

Compared: both flows and both splatting metrics (the original's ``reuse``); the frames at t = 0.5 and
0.25 (its ``inference``) with its own splatting; each splatting against the original's in float64
(the original computes bilinear weights from absolute float32 positions, atdkit from the flow's
fraction); for the union, RIFE's frame from the half-resolution frames at each t; the frames again
with the original's splatting replaced by atdkit's (then the splatting is not compared: what remains
is the rest of the network).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import os
import sys
import tempfile
import time
from pathlib import Path

import cv2
import torch
import torch.nn.functional as F

from atdkit.benchmark.methods.gmfss import GMFSS, GMFSSUnion
from atdkit.benchmark.methods.gmfss.warp import softmax_splat

REPO = Path(__file__).resolve().parents[2]
TRIPLET = REPO.parent / "shared" / "data" / "triplets" / "ccvfi_dragon_1080p"
TIMES = (0.5, 0.25)
BASE, UNION = "model.GMFSS_infer_b", "model.GMFSS_infer_u"  # the original's two models


def original_model(checkout: Path, module: str):
    """GMFSS_Fortuna's ``Model`` class of ``module`` (base or union), imported from the checkout (its CPU
    fallback splatting)."""
    sys.path.insert(0, str(checkout))
    with contextlib.redirect_stdout(io.StringIO()):  # it announces its fallback
        Model = importlib.import_module(module).Model
    torch.set_float32_matmul_precision("highest")  # model/softsplat_torch.py set "medium"
    return Model


def random_release(model, folder: Path) -> None:
    """The four release files from the original's modules, every parameter perturbed (seeded)."""
    generator = torch.Generator().manual_seed(0)
    parts = {"flownet.pkl": model.flownet, "metric.pkl": model.metricnet, "feat.pkl": model.feat_ext}
    parts["fusionnet.pkl"] = model.fusionnet
    if hasattr(model, "ifnet"):  # the union's
        parts["rife.pkl"] = model.ifnet
    for name, part in parts.items():
        state = part.state_dict()
        for key, tensor in state.items():
            scale = 0.1 * tensor.std() if tensor.numel() > 1 else 0.05
            state[key] = tensor + scale * torch.randn(tensor.shape, generator=generator)
        if name == "fusionnet.pkl":  # the frame spread over (0, 1), so that the final clamp hides no difference
            state["residual_model_tail.conv_last.weight"] *= 5
            state["residual_model_tail.conv_last.bias"] += 0.5
        torch.save(state, folder / name)


def frames(size: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    height, width = size
    loaded = []
    for name in ("frame1.png", "frame3.png"):
        image = cv2.cvtColor(cv2.imread(str(TRIPLET / name)), cv2.COLOR_BGR2RGB)
        image = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
        loaded.append(torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255)
    return loaded[0], loaded[1]


def largest(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, required=True, help="checkout of github.com/98mxr/GMFSS_Fortuna")
    parser.add_argument("--union", action="store_true", help="the union model (inference_video.py --union)")
    parser.add_argument("--size", default="256x448", help="HxW, multiples of 64 (default 256x448)")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    args = parser.parse_args()
    if not (args.repo / "model" / "GMFSS_infer_b.py").exists():
        sys.exit(f"{args.repo}: not a checkout of GMFSS_Fortuna (no model/GMFSS_infer_b.py)")
    if not TRIPLET.is_dir():
        sys.exit(f"{TRIPLET} is absent: the real frames live in ../shared/data beside the repository")
    torch.set_num_threads(args.threads)
    height, width = (int(side) for side in args.size.split("x"))
    frame0, frame1 = frames((height, width))
    name, module, network = ("union", UNION, GMFSSUnion) if args.union else ("base", BASE, GMFSS)
    print(f"atdkit's GMFSS {name} against {args.repo.resolve()} on the CPU at {width}x{height}, {args.threads} threads")

    Model = original_model(args.repo, module)
    torch.manual_seed(0)
    original = Model()
    with tempfile.TemporaryDirectory() as folder:
        random_release(original, Path(folder))
        original.load_model(folder, -1)
        ours = network.from_folder(folder)
    original.eval()
    original.device()

    def run_original():  # what inference_video.py does per frame pair
        reuse = original.reuse(frame0, frame1, 1.0)
        return reuse, [original.inference(frame0, frame1, reuse, t) for t in TIMES]

    def run_ours():
        motion = ours.motion(frame0, frame1)
        return motion, [ours.synthesise(motion, t) for t in TIMES]

    with torch.no_grad():
        (reuse, expected), (motion, found) = run_original(), run_ours()  # also the warm-up (oneDNN's first calls)
        seconds = {run: [] for run in (run_original, run_ours)}
        for _ in range(2):
            for run, times in seconds.items():
                started = time.perf_counter()
                run()
                times.append(time.perf_counter() - started)
        flows = [largest(a, b) for a, b in zip(motion.flows, reuse[:2])]
        metrics = [largest(a, b) for a, b in zip(motion.metrics, reuse[2:4])]
        print(
            f"reuse step: largest differences flow 0->1 {flows[0]:.2g} px, flow 1->0 {flows[1]:.2g} px "
            f"(flows up to {float(reuse[0].abs().max()):.1f} px); metric Z0 {metrics[0]:.2g}, Z1 {metrics[1]:.2g}"
        )
        print_frames("its own splatting (model/softsplat_torch.py, independent)", found, expected)
        splat_precision(frame0, reuse)
        if args.union:
            rife_frames(original, ours, motion)
        with atdkit_splatting(module):
            print_frames(
                "its splatting replaced by atdkit's (not independent)",
                found,
                [original.inference(frame0, frame1, reuse, t) for t in TIMES],
            )
    print(
        f"seconds for both steps, {len(TIMES)} timesteps (best of 2, after a warm-up): "
        f"original {min(seconds[run_original]):.2f} s, atdkit {min(seconds[run_ours]):.2f} s"
    )


def print_frames(label: str, found: list[torch.Tensor], expected: list[torch.Tensor]) -> None:
    differences = ", ".join(
        f"t = {t}: {largest(a, b):.2g} ({float(((b > 0) & (b < 1)).float().mean()):.0%} of values inside (0, 1))"
        for t, a, b in zip(TIMES, found, expected)
    )
    print(f"original with {label}: largest frame differences {differences}")


def splat_precision(frame0: torch.Tensor, reuse) -> None:
    """Frame 0 (half resolution) splatted to t = 0.5 in float32 by both, against the original's in float64."""
    from model.softsplat_torch import softsplat

    half0 = F.interpolate(frame0, scale_factor=0.5, mode="bilinear", align_corners=False)
    flow, metric = 0.5 * reuse[0], 0.5 * reuse[2]
    truth = softsplat(half0.double(), flow.double(), metric.double(), "soft")
    theirs = largest(softsplat(half0, flow, metric, "soft").double(), truth)
    ours = largest(softmax_splat(half0, flow, metric).double(), truth)
    print(
        f"splatting frame 0 to t = 0.5 in float32, largest differences from the original's in float64: "
        f"original {theirs:.2g}, atdkit {ours:.2g}"
    )


def rife_frames(original, ours, motion) -> None:
    """The union's RIFE frame from the half-resolution frames at each t, as the original's ``inference`` calls
    its IFNet, against atdkit's."""
    half0, half1 = motion.frames
    differences = ", ".join(
        f"t = {t}: {largest(ours.ifnet(half0, half1, t), original.ifnet(torch.cat((half0, half1), 1), t)):.2g}"
        for t in TIMES
    )
    print(f"RIFE 4.6's frame (rife.pkl) at half resolution: largest differences {differences}")


@contextlib.contextmanager
def atdkit_splatting(module: str):
    """The original's ``warp`` (its softsplat) replaced by atdkit's softmax splatting for the block."""
    infer = importlib.import_module(module)

    saved = infer.warp
    infer.warp = lambda values, flow, metric, strMode: softmax_splat(values, flow, metric)
    try:
        yield
    finally:
        infer.warp = saved


if __name__ == "__main__":
    main()
