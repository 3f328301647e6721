"""atdkit's DAIN against your checkout of the original code: same weights and frames, seconds and largest differences.

    python tools/speed/against_dain.py --repo DAIN_CHECKOUT [FRAME1 FRAME3] [--size 256x192] [--layout]

DAIN_CHECKOUT is a checkout of github.com/baowenbo/DAIN (not part of atdkit; nothing of it is copied).
Its ``networks/DAIN.py`` and sub-networks (PWCNet, MegaDepth, S2D_models, Resblock) and its own Python
wrappers of the CUDA layers are imported and run on the CPU under today's libraries, adapted while they
run, not edited: ``.cuda()`` leaves tensors where they are, ``torch.cuda.FloatTensor`` is the CPU one,
DAIN's stream calls do nothing, ``grid_sample`` gets the ``align_corners=True`` PyTorch 1.0 (DAIN's)
always used, NumPy's removed ``np.int`` returns, MegaDepth's option parser sees no arguments and writes
its ``checkpoints/`` folder into a temporary directory. The compiled extensions are replaced by CPU
stand-ins written here, independently of atdkit's layers: NumPy ports of the CUDA kernels the test
forward calls (``DepthFlowProjectionLayer_cpu_forward`` with its hole filling, looped per hole;
``FilterInterpolationLayer_cpu_forward``, vectorised over pixels, looped over the kernel's quadrants
as the CUDA code is; PWC-Net's ``Correlation``, looped over the 81 displacements).

One random checkpoint in the released format (the original network's own seeded initialisation, with
random batch-norm statistics and slightly perturbed weights) is saved as ``best.pth`` and loaded by
both: the original as ``demo_MiddleBury.py`` loads it, atdkit strictly. Both interpolate the same real
frame pair, padded, run, cropped and clamped as ``demo_MiddleBury.py`` does. ``--layout`` prints the
digest of the original's state-dict layout (names and shapes), pinned in tests/test_dain.py.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib.util
import os
import sys
import tempfile
import time
import types
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from standins import put_back

from atdkit.benchmark.methods.dain import DAIN
from atdkit.benchmark.methods.dain.method import interpolate, padding

REPO = Path(__file__).resolve().parents[2]
PAIR = [REPO.parent / "shared" / "data" / "triplets" / "ccvfi_dragon_1080p" / f"frame{n}.png" for n in (1, 3)]


# --- CPU stand-ins for DAIN's compiled extensions (NumPy ports of the CUDA kernels) ---------------------------


def correlation_module() -> types.ModuleType:
    """``PWCNet.correlation_package_pytorch1_0.correlation``: ``Correlation`` as PWC-Net builds it
    (pad 4, kernel 1, max displacement 4, strides 1): the channel mean of products, zeros outside."""
    module = types.ModuleType("PWCNet.correlation_package_pytorch1_0.correlation")

    class Correlation(torch.nn.Module):
        def __init__(self, pad_size, kernel_size, max_displacement, stride1, stride2, corr_multiply):
            super().__init__()
            assert (pad_size, kernel_size, max_displacement, stride1, stride2) == (4, 1, 4, 1, 1)
            self.reach = max_displacement

        def forward(self, input1, input2):
            first, second = input1.numpy(), input2.numpy()
            reach, (_, _, height, width) = self.reach, first.shape
            padded = np.pad(second, ((0, 0), (0, 0), (reach, reach), (reach, reach)))
            out = np.empty((first.shape[0], (2 * reach + 1) ** 2, height, width), np.float32)
            for tj in range(-reach, reach + 1):
                for ti in range(-reach, reach + 1):
                    shifted = padded[:, :, reach + tj : reach + tj + height, reach + ti : reach + ti + width]
                    out[:, (tj + reach) * (2 * reach + 1) + ti + reach] = (first * shifted).sum(1) / first.shape[1]
            return torch.from_numpy(out)

    module.Correlation = Correlation
    return module


def depth_flow_projection_forward(input1, input2, count, output, fillhole) -> int:
    """``DepthFlowProjectionLayer_cpu_forward``: the three CUDA kernels (splat, average, fill holes)."""
    flow, weight = input1.numpy(), input2.numpy()
    batch, _, height, width = flow.shape
    total, counts = np.zeros_like(flow), np.zeros((batch, 1, height, width), np.float32)
    ys, xs = np.mgrid[0:height, 0:width]
    for b in range(batch):
        fx, fy = flow[b, 0], flow[b, 1]
        x2, y2 = xs.astype(np.float32) + fx, ys.astype(np.float32) + fy
        inside = (x2 >= 0) & (y2 >= 0) & (x2 <= width - 1) & (y2 <= height - 1)
        left, top = x2[inside].astype(np.int64), y2[inside].astype(np.int64)
        right, bottom = np.minimum(left + 1, width - 1), np.minimum(top + 1, height - 1)
        w = weight[b, 0][inside]
        for row, column in ((top, left), (top, right), (bottom, left), (bottom, right)):
            np.add.at(total[b, 0], (row, column), -w * fx[inside])
            np.add.at(total[b, 1], (row, column), -w * fy[inside])
            np.add.at(counts[b, 0], (row, column), w)
    averaged = np.where(counts > 0, total / np.where(counts > 0, counts, 1), total)
    if fillhole:
        filled = averaged.copy()
        for b, _, h, w in zip(*np.nonzero(counts <= 0)):
            line = counts[b, 0]
            neighbours = []
            for dy, dx in ((0, -1), (0, 1), (-1, 0), (1, 0)):
                y, x = h, w
                while 0 <= y + dy < height and 0 <= x + dx < width:
                    y, x = y + dy, x + dx
                    if line[y, x] != 0:
                        break
                if line[y, x] > 0:
                    neighbours.append(averaged[b, :, y, x])
            if neighbours:
                filled[b, :, h, w] = sum(neighbours) / len(neighbours)
        averaged = filled
    count.copy_(torch.from_numpy(counts))
    output.copy_(torch.from_numpy(averaged))
    return 0


def filter_interpolation_forward(input1, input2, input3, output) -> int:
    """``FilterInterpolationLayer_cpu_forward``: the CUDA kernel, its four 2x2 quadrant sums per pixel."""
    image, flow, kernels = input1.numpy(), input2.numpy(), input3.numpy()
    batch, channels, height, width = image.shape
    size = int(round(kernels.shape[1] ** 0.5))
    ys, xs = np.mgrid[0:height, 0:width]
    result = image.copy()
    for b in range(batch):
        fx, fy = flow[b, 0], flow[b, 1]
        x2, y2 = xs.astype(np.float32) + fx, ys.astype(np.float32) + fy
        valid = (x2 >= 0) & (y2 >= 0) & (x2 <= width - 1) & (y2 <= height - 1)
        valid &= (np.abs(fx) < width / 2) & (np.abs(fy) < height / 2)
        x2, y2 = x2[valid], y2[valid]
        ix, iy = x2.astype(np.int64), y2.astype(np.int64)
        alpha, beta = x2 - ix, y2 - iy
        left, top = ix + 1 - size // 2, iy + 1 - size // 2
        pixel_kernels = kernels[b][:, valid]

        def quadrant(rows, columns, top=top, left=left, picture=image[b], taps=pixel_kernels):
            acc = np.zeros((channels, taps.shape[1]), np.float32)
            for j in rows:
                for i in columns:
                    row, column = np.clip(top + j, 0, height - 1), np.clip(left + i, 0, width - 1)
                    acc += picture[:, row, column] * taps[j * size + i]
            return acc

        upper, lower = range(size // 2), range(size // 2, size)
        tl, tr, bl, br = (quadrant(r, c) for r in (upper, lower) for c in (upper, lower))
        result[b][:, valid] = (1 - alpha) * (1 - beta) * tl + alpha * (1 - beta) * tr
        result[b][:, valid] += (1 - alpha) * beta * bl + alpha * beta * br
    output.copy_(torch.from_numpy(result))
    return 0


def extension(name: str, **functions) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__dict__.update(functions)
    return module


@contextlib.contextmanager
def original_code(repo: Path):
    """The original modules importable and runnable on this CPU, for the duration of the block."""
    stand_ins = {
        "PWCNet.correlation_package_pytorch1_0.correlation": correlation_module(),
        "depthflowprojection_cuda": extension(
            "depthflowprojection_cuda", DepthFlowProjectionLayer_cpu_forward=depth_flow_projection_forward
        ),
        "filterinterpolation_cuda": extension(
            "filterinterpolation_cuda", FilterInterpolationLayer_cpu_forward=filter_interpolation_forward
        ),
        "flowprojection_cuda": extension("flowprojection_cuda"),  # imported by DAIN.py, used only without depth
    }
    saved_modules = {name: sys.modules.get(name) for name in stand_ins}
    sys.modules.update(stand_ins)
    sys.path.insert(0, str(repo))
    saved = (torch.Tensor.cuda, F.grid_sample, torch.cuda.FloatTensor, sys.argv, os.getcwd())
    patched_cuda = {
        "current_device": lambda: 0,
        "current_stream": lambda *args: None,
        "stream": lambda stream: contextlib.nullcontext(),
        "synchronize": lambda *args: None,
    }
    saved_cuda = {name: getattr(torch.cuda, name) for name in patched_cuda}
    torch.Tensor.cuda = lambda self, *args, **kwargs: self
    F.grid_sample = lambda image, grid, mode="bilinear", padding_mode="zeros", align_corners=True: saved[1](
        image, grid, mode, padding_mode, align_corners
    )
    torch.cuda.FloatTensor = torch.FloatTensor
    for name, function in patched_cuda.items():
        setattr(torch.cuda, name, function)
    np.int = int
    sys.argv = sys.argv[:1]  # MegaDepth parses the command line for its options
    scratch = tempfile.TemporaryDirectory()
    os.chdir(scratch.name)  # ... and writes checkpoints/test_local/opt.txt where it runs
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        torch.Tensor.cuda, F.grid_sample, torch.cuda.FloatTensor, sys.argv, cwd = saved
        os.chdir(cwd)
        scratch.cleanup()
        for name, function in saved_cuda.items():
            setattr(torch.cuda, name, function)
        del np.int
        sys.path.remove(str(repo))
        put_back(saved_modules)


def original_network(repo: Path) -> torch.nn.Module:
    spec = importlib.util.spec_from_file_location("dain_original", repo / "networks" / "DAIN.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.DAIN(channel=3, filter_size=4, timestep=0.5, training=False)


def layout_digest(state: dict[str, torch.Tensor]) -> str:
    lines = "".join(f"{name} {tuple(tensor.shape)}\n" for name, tensor in sorted(state.items()))
    return hashlib.sha256(lines.encode()).hexdigest()


def random_checkpoint(network: torch.nn.Module, path: Path) -> None:
    """``network``'s seeded initialisation, weights perturbed and batch-norm statistics randomised, as best.pth."""
    generator = torch.Generator().manual_seed(1)
    state = {}
    for name, tensor in network.state_dict().items():
        if name.endswith("running_var"):
            tensor = 0.5 + torch.rand(tensor.shape, generator=generator)
        elif name.endswith("running_mean"):
            tensor = 0.1 * torch.randn(tensor.shape, generator=generator)
        elif tensor.is_floating_point():
            tensor = tensor + 0.01 * torch.randn(tensor.shape, generator=generator)
        state[name] = tensor
    torch.save(state, path)


def read_frames(paths: list[Path], size: tuple[int, int]) -> list[torch.Tensor]:
    frames = []
    for path in paths:
        image = Image.open(path).convert("RGB").resize(size, Image.BICUBIC)
        frames.append(torch.from_numpy(np.asarray(image).transpose(2, 0, 1).astype("float32") / 255.0)[None])
    return frames


def original_demo(network, frame1: torch.Tensor, frame3: torch.Tensor):
    """demo_MiddleBury.py's steps on two (1, 3, H, W) frames: pad, run, crop, clip; and the raw outputs."""
    height, width = frame1.shape[-2:]
    (left, right), (top, bottom) = padding(width), padding(height)
    pader = torch.nn.ReplicationPad2d([left, right, top, bottom])
    x0, x1 = pader(frame1), pader(frame3)
    outputs, offsets, filters = network(torch.stack((x0, x1), dim=0))
    frame = outputs[1].clamp(0, 1)[..., top : top + height, left : left + width]
    return frame, outputs, offsets, filters, (x0, x1)


def timed(run):
    started = time.perf_counter()
    result = run()
    return result, time.perf_counter() - started


def compare(repo: Path, paths: list[Path], size: tuple[int, int], show_layout: bool) -> None:
    with original_code(repo):
        torch.manual_seed(0)
        original = original_network(repo).eval()
        if show_layout:
            state = original.state_dict()
            print(f"original layout: {len(state)} tensors, {sum(t.numel() for t in state.values())} values")
            print(f"sha256 of its sorted 'name (shape)' lines: {layout_digest(state)}")
        with tempfile.TemporaryDirectory() as scratch:
            checkpoint = Path(scratch) / "best.pth"
            random_checkpoint(original, checkpoint)
            loaded = torch.load(checkpoint)  # as demo_MiddleBury.py: the file's entries the network has
            model_dict = original.state_dict()
            model_dict.update({k: v for k, v in loaded.items() if k in model_dict})
            original.load_state_dict(model_dict)
            ours = DAIN.from_checkpoint(checkpoint)
        frame1, frame3 = read_frames(paths, size)
        with torch.no_grad():
            (expected, outputs, offsets, filters, padded), original_seconds = timed(
                lambda: original_demo(original, frame1, frame3)
            )
            found, our_seconds = timed(lambda: interpolate(ours, frame1, frame3))
            inner = ours(*padded)
            original_depth = original.depthNet(torch.cat(padded, 0))
            pairs = (torch.cat(padded, 1), torch.cat(padded[::-1], 1))
            original_flows = [original.forward_flownets(original.flownets, pair)[0] for pair in pairs]
            ours_flows = [ours.flow(*padded), ours.flow(*padded[::-1])]
            features = ours.initScaleNets_filter(torch.cat(padded, 1))
            ours_kernels = [ours.initScaleNets_filter1(features), ours.initScaleNets_filter2(features)]
    height, width = padded[0].shape[-2:]
    (left, _), (top, _) = padding(size[0]), padding(size[1])
    flipped = window_changes(inner["flows"], offsets)
    near = F.max_pool2d(flipped.float(), 2 * REACH + 1, 1, REACH)[..., top : top + size[1], left : left + size[0]] > 0
    magnitude = max(float(flow.norm(dim=1).max()) for flow in inner["flows"])
    print(
        f"frames {size[0]}x{size[1]} (padded {width}x{height}) of {paths[0].parent.name}: "
        f"original {original_seconds:.2f} s, atdkit {our_seconds:.2f} s"
    )
    print(
        f"largest |difference|: PWC-Net flows {pair_max(ours_flows, original_flows):.2g} px, projected flows "
        f"t->0, t->1 {pair_max(inner['flows'], offsets):.2g} px (flows up to {magnitude:.1f} px), "
        f"kernels {pair_max(ours_kernels, filters):.2g}, log depth "
        f"{largest(torch.cat(inner['log_depth'], 0), original_depth):.2g} "
        f"(range {float(original_depth.min()):.2f} .. {float(original_depth.max()):.2f})"
    )
    print(
        f"  frame (cropped, clamped) {largest(found, expected):.2g}; {int(flipped.sum())} pixels sample a different "
        f"4x4 window in the two (a projected flow on either side of a pixel boundary: adaptive warping jumps there); "
        f"away from them: unrectified blend {largest(inner['blend'], outputs[0], ~flipped):.2g}, "
        f"frame {largest(found, expected, ~near):.2g} (outside {int(near.sum())} pixels within {REACH} px of one)"
    )


REACH = 10  # the synthesis network's receptive radius: 7x7, three residual blocks of two 3x3, 3x3


def window_changes(flows: list[torch.Tensor], others: list[torch.Tensor]) -> torch.Tensor:
    """Pixels where two sets of projected flows (t->0, t->1) pick different adaptive-warping windows."""
    changed = torch.zeros_like(flows[0][:, :1], dtype=torch.bool)
    height, width = flows[0].shape[-2:]
    ys, xs = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")

    def window(flow):
        x, y = xs + flow[:, 0], ys + flow[:, 1]
        valid = (x >= 0) & (y >= 0) & (x <= width - 1) & (y <= height - 1)
        valid &= (flow[:, 0].abs() < width / 2) & (flow[:, 1].abs() < height / 2)
        return torch.stack([x.floor() * valid, y.floor() * valid, valid], 1)

    for flow, other in zip(flows, others):
        changed |= (window(flow) != window(other)).any(1, keepdim=True)
    return changed


def pair_max(ours: list[torch.Tensor], theirs: list[torch.Tensor]) -> float:
    return max(largest(a, b) for a, b in zip(ours, theirs))


def largest(a: torch.Tensor, b: torch.Tensor, where: torch.Tensor | None = None) -> float:
    difference = (a - b).abs()
    if where is not None:
        difference = difference * where
    return float(difference.max())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, required=True, help="checkout of github.com/baowenbo/DAIN")
    parser.add_argument("frames", nargs="*", type=Path, default=PAIR)
    parser.add_argument("--size", default="256x192", help="WxH the frames are resized to (default 256x192)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--layout", action="store_true", help="print the digest of the original's state-dict layout")
    args = parser.parse_args()
    if not (args.repo / "networks" / "DAIN.py").exists():
        sys.exit(f"{args.repo}: not a checkout of baowenbo/DAIN (no networks/DAIN.py)")
    if len(args.frames) != 2:
        sys.exit("give two frames (or none for the default pair)")
    torch.set_num_threads(args.threads)
    width, height = (int(side) for side in args.size.split("x"))
    print(f"atdkit against {args.repo.resolve()} on the CPU, {args.threads} threads, load {os.getloadavg()[0]:.2f}")
    compare(args.repo.resolve(), [path.resolve() for path in args.frames], (width, height), args.layout)


if __name__ == "__main__":
    main()
