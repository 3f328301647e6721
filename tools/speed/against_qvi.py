"""atdkit's QVI against your checkout of the authors' code: same weights, same real frames; largest
differences of the frame and the flows, and seconds.

    python tools/speed/against_qvi.py --repo QVI_CHECKOUT [--clip CLIP] [--start N] [--size 448x256]

QVI_CHECKOUT is a checkout of github.com/xuxy09/QVI (not part of atdkit; nothing of it is copied). Its
code runs on the CPU under today's PyTorch, adapted while it runs, not edited: ``.cuda()`` leaves
tensors where they are, ``torchvision`` (imported, unused by the model) is an empty stand-in when
absent, and its CuPy correlation (models/correlation.py, a CUDA kernel) is replaced by a CPU stand-in
written here (the channel mean of first * second shifted by each of the 9x9 displacements, zeros
outside). Nothing else is replaced: its PWC-Net, flow reversal (``ForwardWarp``), U-Net, warping and
synthesis run as written, with ``grid_sample``'s default of today's PyTorch and of the 1.5.1 its
README names (``align_corners=False``).

Both networks load one checkpoint in the released format (train.py's dict, ``model_state_dict`` with
DataParallel's ``module.`` keys, a datetime among the records) holding seeded random weights; the
authors' constructor also reads PWC-Net from a plain state dict, as ``utils/pwc-checkpoint.pt``.
Frames: four consecutive frames of a real clip (../shared/data/clips), decoded with atdkit's reader
and resized to ``--size``, normalised as the authors' test script does (RGB / 255 minus the means).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import sys
import tempfile
import time
import types
import warnings
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from standins import put_back

from atdkit.benchmark.methods.qvi import QVI
from atdkit.benchmark.methods.qvi.model import MEAN, backwarp
from atdkit.benchmark.methods.qvi.reversal import reverse_flow
from atdkit.images import resize
from atdkit.video import open_video

REPO = Path(__file__).resolve().parents[2]
CLIP = REPO.parent / "shared" / "data" / "clips" / "copying_is_not_theft_32s.mp4"


def correlation_stand_in() -> types.ModuleType:
    """``models.correlation`` without CuPy: ``FunctionCorrelation`` on the CPU."""
    module = types.ModuleType("models.correlation")

    def function_correlation(tensorFirst, tensorSecond):  # noqa: N803 (the authors' keyword names)
        height, width = tensorFirst.shape[-2:]
        padded = F.pad(tensorSecond, (4, 4, 4, 4))
        planes = [
            (tensorFirst * padded[:, :, 4 + dy : 4 + dy + height, 4 + dx : 4 + dx + width]).sum(1)
            / tensorFirst.shape[1]
            for dy in range(-4, 5)
            for dx in range(-4, 5)
        ]  # output channel (dy + 4) * 9 + (dx + 4), as the kernel's top_channel
        return torch.stack(planes, 1)

    module.FunctionCorrelation = function_correlation
    return module


@contextlib.contextmanager
def authors_code(repo: Path):
    """The authors' ``models`` package importable and runnable on this CPU, for the duration of the block."""
    stand_ins = {"models.correlation": correlation_stand_in()}
    try:
        import torchvision  # noqa: F401
    except ImportError:
        stand_ins.update({name: types.ModuleType(name) for name in ("torchvision", "torchvision.transforms")})
    saved_modules = {name: sys.modules.get(name) for name in (*stand_ins, "models")}
    sys.modules.update(stand_ins)
    sys.path.insert(0, str(repo))
    saved_cuda = torch.Tensor.cuda
    torch.Tensor.cuda = lambda self, *args, **kwargs: self
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        torch.Tensor.cuda = saved_cuda
        sys.path.remove(str(repo))
        put_back(saved_modules)


def released_checkpoint(folder: Path, seed: int) -> tuple[Path, Path]:
    """(model.pt in the released format, pwc-checkpoint.pt) with seeded random weights."""
    torch.manual_seed(seed)
    state = QVI().state_dict()
    generator = torch.Generator().manual_seed(seed)
    state = {name: tensor + 0.01 * torch.randn(tensor.shape, generator=generator) for name, tensor in state.items()}
    model, pwc = folder / "model.pt", folder / "pwc-checkpoint.pt"
    torch.save(
        {
            "Detail": "Quadratic video interpolation.",
            "epoch": 249,
            "timestamp": datetime.datetime(2019, 5, 1, 12, 0),
            "trainBatchSz": 25,
            "validationBatchSz": 1,
            "learningRate": 1e-5,
            "loss": [[0.1]],
            "valLoss": [[0.1]],
            "valPSNR": [[30.0]],
            "model_state_dict": {f"module.{name}": tensor for name, tensor in state.items()},
        },
        model,
    )
    torch.save({name.removeprefix("flownet."): t for name, t in state.items() if name.startswith("flownet.")}, pwc)
    return model, pwc


def four_frames(clip: Path, start: int, size: tuple[int, int]) -> torch.Tensor:
    """Frames start .. start + 3 of ``clip``, RGB in [0, 1], resized to ``size`` (W, H): (4, 3, H, W)."""
    stream, frames = open_video(clip), []
    decoded = stream.frames()
    try:
        for frame in decoded:
            if frame.index >= start:
                frames.append(resize(frame.rgb(), size))
            if len(frames) == 4:
                break
    finally:
        decoded.close()
        stream.close()
    if len(frames) < 4:
        sys.exit(f"{clip}: fewer than 4 frames from frame {start}")
    return torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2).float() / 255


def timed(run):
    started = time.perf_counter()
    result = run()
    return result, time.perf_counter() - started


def largest(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max())


def authors_reversal(authors, flow: torch.Tensor) -> torch.Tensor:
    """The authors' flow reversal as QVI.forward applies it: their ForwardWarp, negated, divided by the weights."""
    reversed_flow, norm = authors.fwarp(flow, flow)
    reversed_flow = -reversed_flow
    reversed_flow[norm > 0] = reversed_flow[norm > 0] / norm[norm > 0]
    return reversed_flow


def compare_layers(repo: Path, frames: torch.Tensor) -> None:
    """Flow reversal and backward warping, the authors' and atdkit's, on a real flow with real motion (DIS
    between two frames of the clip, scaled by 4), the same input to both."""
    gray = [
        cv2.cvtColor(np.round(frame.permute(1, 2, 0).numpy() * 255).astype(np.uint8), cv2.COLOR_RGB2GRAY)
        for frame in frames[1:3]
    ]
    flow = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM).calc(gray[0], gray[1], None)
    flow = 4 * torch.from_numpy(flow).permute(2, 0, 1)[None].float().contiguous()
    with authors_code(repo):
        import models  # noqa: F401 (its __init__ binds models.QVI to the class; the module is in sys.modules)
        from models.forward_warp_gaussian import ForwardWarp

        authors_module = sys.modules["models.QVI"]

        authors = types.SimpleNamespace(fwarp=ForwardWarp())
        (expected, authors_seconds), (found, our_seconds) = (
            timed(lambda: authors_reversal(authors, flow)),
            timed(lambda: reverse_flow(flow)),
        )
        warped_expected, warped_found = authors_module.backwarp(frames[1:2], flow), backwarp(frames[1:2], flow)
    print(
        f"layers on a real flow (DIS x 4, up to {float(flow.abs().max()):.1f} px): flow reversal: largest difference "
        f"{largest(found, expected):.2g} px (authors {authors_seconds:.3f} s, atdkit {our_seconds:.3f} s); "
        f"backward warping: {largest(warped_found, warped_expected):.2g}"
    )


def compare(repo: Path, frames: torch.Tensor, t: float) -> None:
    with tempfile.TemporaryDirectory() as folder, authors_code(repo):
        import models

        model_path, pwc_path = released_checkpoint(Path(folder), seed=0)
        authors = torch.nn.DataParallel(models.QVI(str(pwc_path)))  # as demo.py wraps and loads it
        authors.load_state_dict(torch.load(model_path, weights_only=False)["model_state_dict"])
        authors = authors.module.eval()
        ours = QVI.from_checkpoint(model_path)
        mean = torch.tensor(MEAN).view(1, 3, 1, 1)
        image0, image1, image2, image3 = (frame[None] - mean for frame in frames)
        frame0, frame1, frame2, frame3 = (frame[None] for frame in frames)
        with torch.no_grad():
            expected, authors_seconds = timed(lambda: authors(image0, image1, image2, image3, t) + mean)
            (found, flows), our_seconds = timed(
                lambda: ours(frame1, frame2, t=t, neighbours=(frame0, frame3), details=True)
            )
            linear_expected = authors(None, image1, image2, None, t) + mean
            linear_found = ours(frame1, frame2, t=t)
            # the authors' flows: their PWC-Net, their quadratic layer, their flow reversal as QVI.forward applies it
            authors_flows = {
                "flow12": authors.flownet(image1, image2),
                "flow21": authors.flownet(image2, image1),
                "flow10": authors.flownet(image1, image0),
                "flow23": authors.flownet(image2, image3),
            }
            flow1t, flow2t = authors.acc(*(authors_flows[name] for name in ("flow10", "flow12", "flow21", "flow23")), t)
            authors_flows.update(flow1t=flow1t, flow2t=flow2t)
            authors_flows.update(flow_t1=authors_reversal(authors, flow1t), flow_t2=authors_reversal(authors, flow2t))
            same_input = max(
                largest(reverse_flow(flow), authors_flows[name])
                for flow, name in ((flow1t, "flow_t1"), (flow2t, "flow_t2"))
            )
    height, width = frames.shape[-2:]
    print(
        f"QVI at {width}x{height}, t = {t}: authors' code {authors_seconds:.2f} s, atdkit {our_seconds:.2f} s "
        f"({authors_seconds / our_seconds:.1f}x)"
    )
    print(
        f"  largest differences: frame {largest(found, expected):.2g} (two-frame mode: "
        f"{largest(linear_found, linear_expected):.2g}); flows (px): "
        + ", ".join(f"{name} {largest(flows[name], flow):.2g}" for name, flow in authors_flows.items())
    )
    print(
        f"  largest flow magnitude {max(float(flow.abs().max()) for flow in authors_flows.values()):.3g} px; "
        f"flow reversal of the authors' flow1t and flow2t themselves: largest difference {same_input:.2g} px "
        "(the layer is discontinuous where a flow crosses an integer: 1e-7 px apart may land a pixel apart)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, required=True, help="checkout of github.com/xuxy09/QVI")
    parser.add_argument("--clip", type=Path, default=CLIP)
    parser.add_argument("--start", type=int, default=120, help="the first of the four frames")
    parser.add_argument("--size", default="448x256", help="WxH the frames are resized to (default 448x256)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    if not (args.repo / "models" / "QVI.py").exists():
        sys.exit(f"{args.repo}: not a checkout of github.com/xuxy09/QVI (no models/QVI.py)")
    torch.set_num_threads(args.threads)
    size = tuple(int(side) for side in args.size.split("x"))
    frames = four_frames(args.clip, args.start, size)
    print(
        f"atdkit against {args.repo.resolve()} on the CPU, {args.threads} thread(s); frames {args.start}-"
        f"{args.start + 3} of {args.clip.name}"
    )
    compare_layers(args.repo, frames)
    for t in (0.5, 0.25):
        compare(args.repo, frames, t)


if __name__ == "__main__":
    main()
