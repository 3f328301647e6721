"""atdkit's EMA-VFI against your checkout of the official code: same weights and frames, largest differences, seconds.

    python tools/speed/against_ema_vfi.py --repo EMA_VFI_CHECKOUT [--size 480x270] [--times 0.5 0.3]

EMA_VFI_CHECKOUT is a checkout of github.com/MCG-NJU/EMA-VFI (not part of atdkit; nothing of it
is copied). Its ``Trainer.Model`` (the class its demo and benchmark scripts use) is run on the
CPU, adapted while it runs, not edited: ``timm`` (absent here) is replaced by the three names its
model imports (``to_2tuple``; ``trunc_normal_``, used only to initialise; ``DropPath``, never built
at drop rate 0), ``Model.device`` (``.to("cuda")``) does nothing and ``Tensor.cuda`` returns the
tensor where it is (``calculate_flow``/``forward`` put the timestep map on the GPU with it).

For each release (``ours_t``: F=32, ``ours_small_t``: F=16) one checkpoint file is written in the
released format (``module.`` keys, plus the ``attn_mask``/``HW`` buffers its shifted blocks leave
after a 448x256 forward) with seeded random weights (the official initialisation under a fixed
seed, every bias, norm and PReLU weight then perturbed, the flow heads' last layers scaled up to give
flows of several pixels and the U-Net's last layer down), and loaded by both: by the official
``Model.load_model`` and by atdkit's ``ema-vfi``/``ema-vfi-small`` methods. Frames: the real 1080p
triplet in ../shared/data (frame1 and frame3) resized to ``--size`` (default 480x270: not a multiple
of 32, so InputPadder's centred padding and the attention's window padding are both exercised),
read with OpenCV as the official scripts do (BGR). Compared at each ``--times``: the frame as
the official scripts produce it (InputPadder, ``multi_inference`` with their TTA setting, unpad)
against atdkit's method output; the flows after each head of the network's forward.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import sys
import tempfile
import time
import types
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

from atdkit.benchmark.methods.ema_vfi import EMAVFI, METHODS, RELEASES

REPO = Path(__file__).resolve().parents[2]
TRIPLET = REPO.parent / "shared" / "data" / "triplets" / "ccvfi_dragon_1080p"
TTA = {"ours_t": True, "ours_small_t": False}  # what demo_Nx.py and benchmark/HD_4X.py set
ARCH = {"ours_t": (32, [2, 2, 2, 4, 4]), "ours_small_t": (16, [2, 2, 2, 2, 2])}  # their init_model_config calls


def timm_stand_in() -> None:
    """``timm.models.layers`` as the official model imports it."""
    timm, models, layers = (types.ModuleType(name) for name in ("timm", "timm.models", "timm.models.layers"))
    layers.to_2tuple = lambda x: tuple(x) if isinstance(x, (tuple, list)) else (x, x)
    layers.trunc_normal_ = nn.init.trunc_normal_
    layers.DropPath = nn.Identity  # only built when drop_path > 0, which the configs never set
    timm.models, models.layers = models, layers
    sys.modules.update({"timm": timm, "timm.models": models, "timm.models.layers": layers})


@contextlib.contextmanager
def official_code(repo: Path):
    """The checkout importable, ``Tensor.cuda`` a no-op, ``Model.device`` a no-op; undone on exit."""
    timm_stand_in()
    sys.path.insert(0, str(repo))
    cuda = torch.Tensor.cuda
    torch.Tensor.cuda = lambda self, *args, **kwargs: self
    try:
        import config
        import Trainer

        Trainer.Model.device = lambda self: None
        spec = importlib.util.spec_from_file_location("official_padder", repo / "benchmark" / "utils" / "padder.py")
        padder = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(padder)
        yield config, Trainer.Model, padder.InputPadder
    finally:
        torch.Tensor.cuda = cuda
        sys.path.remove(str(repo))


def released_checkpoint(network: nn.Module, path: Path, seed: int) -> None:
    """``network``'s state dict with seeded random values, saved as the release was: ``module.`` keys and
    the shifted blocks' size-dependent buffers from a 448x256 forward."""
    torch.manual_seed(seed)
    for module in network.modules():  # the official initialisation, under the seed
        if hasattr(module, "_init_weights"):
            module.apply(module._init_weights)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for tensor in network.state_dict().values():
            if tensor.dim() == 1:  # biases, norms, PReLU slopes: away from their 0 / 1 / 0.25 starts
                tensor.add_(0.05 * torch.randn(tensor.shape, generator=generator))
        for name, tensor in network.state_dict().items():
            if name.startswith(("block.0.conv.2.0.", "block.1.conv.2.0.")):
                tensor.mul_(10)  # flows of several pixels (about 1 px otherwise)
            elif name.startswith("unet.conv."):
                tensor.mul_(0.1)  # a residual that leaves most pixels unclamped
        frames = torch.rand(1, 6, 256, 448, generator=generator)
        network(frames)  # registers attn_mask / HW on the shifted blocks, as training did
    state = {"module." + name: tensor.clone() for name, tensor in network.state_dict().items()}
    assert any(name.endswith(".attn_mask") for name in state)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)


def read_bgr(path: Path, width: int, height: int) -> np.ndarray:
    image = cv2.imread(str(path))
    if image is None:
        sys.exit(f"{path}: cannot read it (the real triplet lives in ../shared/data)")
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)


def compare(name: str, repo: Path, bgr: list[np.ndarray], times: list[float], workdir: Path) -> None:
    channels, depths = ARCH[name]
    with official_code(repo) as (config, Model, InputPadder):
        config.MODEL_CONFIG["LOGNAME"] = name
        config.MODEL_CONFIG["MODEL_ARCH"] = config.init_model_config(F=channels, depth=depths)
        torch.manual_seed(len(name))  # what _init_weights does not reach: PyTorch's own initialisation
        official = Model(-1)
        path = workdir / "ckpt" / f"{name}.pkl"
        released_checkpoint(official.net, path, seed=len(name))
        official = Model(-1)  # a fresh one, as the scripts build it, then their loading
        os.chdir(workdir)
        official.load_model()
        official.eval()
        method = next(method for method in METHODS if method.weights[0].filename == path.name)
        interpolate = method.load({method.weights[0].key: path}, torch.device("cpu"))
        release = next(release for release in RELEASES if release.name == name)
        network = EMAVFI.from_checkpoint(path, release)

        I0, I2 = (torch.from_numpy(image.transpose(2, 0, 1)).float().unsqueeze(0) / 255.0 for image in bgr)
        padder = InputPadder(I0.shape, divisor=32)
        padded0, padded2 = padder.pad(I0, I2)
        rgb = [frame.flip(1) for frame in (I0, I2)]
        tta = TTA[name]
        for t in times:
            with torch.no_grad():
                started = time.perf_counter()
                theirs = padder.unpad(
                    official.multi_inference(padded0, padded2, TTA=tta, time_list=[t], fast_TTA=tta)[0]
                )
                their_seconds = time.perf_counter() - started
                started = time.perf_counter()
                ours = interpolate(*rgb, None, t=t)[0].flip(0)  # RGB back to BGR
                our_seconds = time.perf_counter() - started
                their_flows = official.net(torch.cat([padded0, padded2], 1), timestep=t)[0]
                our_flows = network(padded0, padded2, t)[1]
            clamped = float(((ours == 0) | (ours == 1)).float().mean())
            flow_diffs = [float((a - b).abs().max()) for a, b in zip(their_flows, our_flows)]
            size = f"{I0.shape[-1]}x{I0.shape[-2]}"
            print(
                f"{name} ({method.name}) t={t} {size}, TTA {'on' if tta else 'off'}: frame max |diff| "
                f"{float((theirs - ours).abs().max()):.2e} ({clamped:.1%} clamped); flows after "
                f"each head max |diff| {', '.join(f'{d:.2e}' for d in flow_diffs)} px (max |flow| "
                f"{float(our_flows[-1].abs().max()):.1f} px); seconds official {their_seconds:.2f}, "
                f"atdkit {our_seconds:.2f}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, required=True, help="checkout of github.com/MCG-NJU/EMA-VFI")
    parser.add_argument("--size", default="480x270", help="WxH the frames are resized to (default 480x270)")
    parser.add_argument("--times", type=float, nargs="+", default=[0.5, 0.3])
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    width, height = map(int, args.size.lower().split("x"))
    bgr = [read_bgr(TRIPLET / f"frame{n}.png", width, height) for n in (1, 3)]
    repo = args.repo.resolve()
    here = Path.cwd()
    with tempfile.TemporaryDirectory() as workdir:
        try:
            for release in RELEASES:
                compare(release.name, repo, bgr, args.times, Path(workdir))
        finally:
            os.chdir(here)


if __name__ == "__main__":
    main()
