"""atdkit's RIFE networks against the original IFNet code of each release: same weights, same frames.

    python tools/speed/against_rife.py --repo CHECKOUT [--version 4.6 4.15 ...] [--size 448x256] [--threads N]

CHECKOUT (not part of atdkit; nothing of it is copied) is one of:

- a checkout of github.com/HolyWu/vs-rife: ``vsrife/IFNet_HDv3_v4_*.py``, one IFNet per 4.x release
  (default: every 4.x release atdkit runs). Its package ``__init__`` (VapourSynth, CUDA) is not run:
  the modules are imported on their own; its ``init_module`` is reproduced (``module.`` keys, the
  network loaded non-strictly, ``Head`` from the ``encode.`` keys) and its forward gets the flow
  divisor and base grid it precomputes.
- a checkout of github.com/hzwer/Practical-RIFE or megvii-research/ECCV2022-RIFE with a release's
  model files unzipped into ``train_log/`` as their READMEs say (``IFNet_HDv3.py``; the repository's
  own ``model/warplayer.py`` is used), with ``--version`` naming that one release (``hdv3`` for
  ECCV2022-RIFE's v3.6 HD model). Its ``IFNet`` is called as its ``RIFE_HDv3.Model.inference`` calls
  it at scale 1.0 (scale list 4/2/1 for HDv3, 8/4/2/1 for 4.6-4.22.lite, 16/8/4/2/1 for 4.25);
  the file is loaded as ``load_model(..., -1)`` does (``module.`` keys kept, prefix dropped; strictly
  for HDv3, non-strictly for 4.x).

Both sides load one random checkpoint in the released format: the original network's state dict
(``module.`` prefixed; for vs-rife the network's and ``encode.`` + ``Head``'s) with seeded random
values, saved to a temporary ``flownet.pkl``; atdkit reads it through its strict loader. The frames
are a real keyframe pair from ../shared/data, resized to ``--size``; 4.x also run at t = 0.3.
Printed per release and t: the largest differences of the frame and of every block's flows (the
original's ``flow_list``; for vs-rife, the flows it hands to ``warp`` for the frames), and seconds.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import math
import os
import sys
import tempfile
import time
import types
from pathlib import Path

import cv2
import torch
from standins import put_back

from atdkit.benchmark.methods.rife import RELEASES
from atdkit.images import read_rgb

REPO = Path(__file__).resolve().parents[2]
PAIR = [
    REPO.parent / "shared" / "data" / "pairs" / "anime_keyframes_640x540" / f"konobi12_panel_{n}.png"
    for n in ("009", "018")
]
VERSIONS = {  # --version: (atdkit's release, vs-rife's module suffix, the scale list of RIFE_HDv3.inference)
    "hdv3": ("rife-hdv3", None, [4, 2, 1]),
    "4.6": ("rife-4.6", "4_6", [8, 4, 2, 1]),
    "4.15": ("rife-4.15", "4_15", [8, 4, 2, 1]),
    "4.22": ("rife-4.22", "4_22", [8, 4, 2, 1]),
    "4.22.lite": ("rife-4.22-lite", "4_22_lite", [8, 4, 2, 1]),
    "4.25": ("rife-4.25", "4_25", [16, 8, 4, 2, 1]),
}


def random_state(layout: dict[str, torch.Tensor], seed: int) -> dict[str, torch.Tensor]:
    """Seeded values that keep activations and flows moderate (a few pixels): weights ~ N(0, 1/fan-in), the
    residual scales ``beta``, biases and PReLU slopes small."""
    generator = torch.Generator().manual_seed(seed)
    state = {}
    for name, tensor in layout.items():
        noise = torch.randn(tensor.shape, generator=generator)
        if name.endswith("beta"):
            state[name] = 0.2 * noise
        elif tensor.dim() >= 2:
            state[name] = noise / math.sqrt(tensor[0].numel())
        else:
            state[name] = 0.05 * noise
    return {"module." + name: value for name, value in state.items()}


@contextlib.contextmanager
def importable(*paths: Path, modules: dict[str, types.ModuleType] | None = None):
    """``paths`` on sys.path and ``modules`` in sys.modules for the block; both restored after."""
    saved = {name: sys.modules.get(name) for name in modules or {}}
    sys.modules.update(modules or {})
    sys.path[:0] = [str(path) for path in paths]
    try:
        yield
    finally:
        del sys.path[: len(paths)]
        put_back(saved)


class TrainLog:
    """A release's ``train_log/IFNet_HDv3.py`` in a Practical-RIFE or ECCV2022-RIFE checkout."""

    def __init__(self, checkout: Path, version: str):
        with importable(checkout):
            for name in [name for name in sys.modules if name.split(".")[0] in ("train_log", "model")]:
                del sys.modules[name]  # another checkout's
            self.module = importlib.import_module("train_log.IFNet_HDv3")
        self.network = self.module.IFNet().eval()
        self.hd, self.scales = version == "hdv3", VERSIONS[version][2]

    def layout(self) -> dict[str, torch.Tensor]:
        return self.network.state_dict()

    def load(self, path: Path) -> None:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
        state = {name.replace("module.", ""): value for name, value in loaded.items() if "module." in name}
        self.network.load_state_dict(state, strict=self.hd)

    def run(self, frame0, frame1, t) -> tuple[torch.Tensor, list[torch.Tensor]]:
        frames = torch.cat([frame0, frame1], dim=1)
        flows, _, merged = self.network(frames, self.scales) if self.hd else self.network(frames, t, self.scales)
        return merged[-1], flows


class VsRife:
    """A release's ``vsrife/IFNet_HDv3_v4_*.py`` in a vs-rife checkout."""

    def __init__(self, checkout: Path, version: str):
        package = types.ModuleType("vsrife")
        package.__path__ = [str(checkout / "vsrife")]
        with importable(modules={"vsrife": package}):
            self.module = importlib.import_module(f"vsrife.IFNet_HDv3_v{VERSIONS[version][1]}")
        self.network = self.module.IFNet(1.0, False).eval()
        self.head = self.module.Head().eval() if hasattr(self.module, "Head") else None
        self.warped_flows: list[torch.Tensor] = []
        original_warp = self.module.warp

        def recording_warp(image, flow, *args):
            if image.shape[1] == 3:  # a frame, not features: the block's flows
                self.warped_flows.append(flow)
            return original_warp(image, flow, *args)

        self.module.warp = recording_warp

    def layout(self) -> dict[str, torch.Tensor]:
        head = {f"encode.{name}": value for name, value in self.head.state_dict().items()} if self.head else {}
        return self.network.state_dict() | head

    def load(self, path: Path) -> None:  # as vs-rife's init_module
        loaded = torch.load(path, map_location="cpu", weights_only=True)
        state = {name.replace("module.", ""): value for name, value in loaded.items() if "module." in name}
        self.network.load_state_dict(state, strict=False)
        if self.head is not None:
            self.head.load_state_dict({k.replace("encode.", ""): v for k, v in state.items() if "encode." in k})

    def run(self, frame0, frame1, t) -> tuple[torch.Tensor, list[torch.Tensor]]:
        height, width = frame0.shape[-2:]
        divisor = torch.tensor([(width - 1) / 2, (height - 1) / 2])
        grid = torch.cat(
            [
                torch.linspace(-1, 1, width).view(1, 1, 1, width).expand(-1, -1, height, -1),
                torch.linspace(-1, 1, height).view(1, 1, height, 1).expand(-1, -1, -1, width),
            ],
            dim=1,
        )
        time_plane = torch.full([1, 1, height, width], t)
        features = (self.head(frame0), self.head(frame1)) if self.head else ()
        self.warped_flows = []
        frame = self.network(frame0, frame1, time_plane, divisor, grid, *features)
        pairs = self.warped_flows
        return frame, [torch.cat([pairs[i], pairs[i + 1]], dim=1) for i in range(0, len(pairs), 2)]


def frames(size: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    width, height = size
    return tuple(
        torch.from_numpy(cv2.resize(read_rgb(path), (width, height), interpolation=cv2.INTER_AREA))
        .permute(2, 0, 1)[None]
        .float()
        / 255
        for path in PAIR
    )


def timed(run):
    started = time.perf_counter()
    result = run()
    return result, time.perf_counter() - started


def compare(original, version: str, size: tuple[int, int], scratch: Path) -> None:
    release = RELEASES[VERSIONS[version][0]]
    path = scratch / f"flownet_{version}.pkl"
    torch.save(random_state(original.layout(), seed=0), path)
    original.load(path)
    ours = release.load(path)
    frame0, frame1 = frames(size)
    for t in (0.5,) if version == "hdv3" else (0.5, 0.3):
        with torch.inference_mode():
            (expected, expected_flows), original_seconds = timed(lambda: original.run(frame0, frame1, t))  # noqa: B023
            (found, found_flows), our_seconds = timed(lambda: ours.estimate(frame0, frame1, t))  # noqa: B023
        flow_differences = [float((a - b).abs().max()) for a, b in zip(found_flows, expected_flows, strict=True)]
        print(
            f"{release.name} t={t}: frame {float((found - expected).abs().max()):.2g}, "
            f"flows per block {' '.join(f'{d:.2g}' for d in flow_differences)} px "
            f"(largest flow {float(expected_flows[-1].abs().max()):.1f} px); "
            f"original {original_seconds:.2f} s, atdkit {our_seconds:.2f} s"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--repo", type=Path, required=True, help="vs-rife, or Practical-RIFE/ECCV2022-RIFE + train_log/"
    )
    parser.add_argument("--version", nargs="+", choices=list(VERSIONS), help="releases to compare")
    parser.add_argument("--size", default="448x256", help="WxH of the frames (default 448x256)")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    size = tuple(int(side) for side in args.size.split("x"))
    vs_rife = (args.repo / "vsrife" / "IFNet_HDv3_v4_6.py").is_file()
    if vs_rife:
        versions = args.version or [version for version in VERSIONS if version != "hdv3"]
        if "hdv3" in versions:
            sys.exit("vs-rife has no HDv3 (v3.x) network: compare it with an ECCV2022-RIFE checkout and its train_log/")
    elif (args.repo / "train_log" / "IFNet_HDv3.py").is_file() and (args.repo / "model" / "warplayer.py").is_file():
        if not args.version or len(args.version) != 1:
            sys.exit(f"{args.repo}/train_log holds one release: name it with --version ({', '.join(VERSIONS)})")
        versions = args.version
    else:
        sys.exit(f"{args.repo}: neither a vs-rife checkout nor a RIFE checkout with train_log/IFNet_HDv3.py")
    print(f"atdkit against {args.repo.resolve()} on the CPU, {args.threads} threads, frames {size[0]}x{size[1]}")
    with tempfile.TemporaryDirectory() as scratch:
        for version in versions:
            original = VsRife(args.repo, version) if vs_rife else TrainLog(args.repo, version)
            compare(original, version, size, Path(scratch))


if __name__ == "__main__":
    main()
