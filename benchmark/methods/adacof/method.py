"""AdaCoF as a benchmark method, and as a network ``atdkit train`` fine-tunes or trains.

As the release's test scripts (``evaluation.py``, ``interpolate_twoframe.py``) feed it: RGB
frames in [0, 1] (torchvision's ``ToTensor`` of the PNGs), no other normalisation outside the
network (it subtracts its channel means inside), reflection padding at the bottom and right to
a multiple of 32 px and the output cropped back (inside its forward there; ``Padding(32,
"reflect")`` here); at the benchmark's 960x540, 4 rows are added. The released model is the
F=5, D=1 one (``checkpoint/kernelsize_5``).
"""

from __future__ import annotations

from pathlib import Path

import torch

from atdkit.benchmark.checkpoint import CheckpointError
from atdkit.benchmark.methods import Method, MethodError, Padding, Trainable, WeightFile
from atdkit.benchmark.methods.adacof.model import WEIGHTS_KEY, AdaCoFNet

CHECKPOINT = WeightFile(
    key=WEIGHTS_KEY,
    filename="adacof_kernelsize_5.pth",
    source="github.com/HyeongminLEE/AdaCoF-pytorch (the repository's own file checkpoint/kernelsize_5/ckpt.pth, "
    "F=5 D=1, trained on Vimeo-90K; save it under this name or pass --weights adacof=.../ckpt.pth), "
    "or an atdkit train --method adacof run",
    keys=("state_dict",),
)


def load_network(path: Path, device: torch.device) -> AdaCoFNet:
    try:
        return AdaCoFNet.from_checkpoint(path, device)
    except CheckpointError as error:
        raise MethodError(str(error)) from None


def load(weights: dict[str, Path], device: torch.device):
    network = load_network(weights[CHECKPOINT.key], device)
    return lambda frame1, frame3, flows, t=0.5: network(frame1, frame3)


def build_network(weights: dict[str, Path]) -> AdaCoFNet:
    """A network to train: the released weights when given (fine-tuning), random otherwise."""
    if CHECKPOINT.key in weights:
        return load_network(weights[CHECKPOINT.key], torch.device("cpu")).train()
    return AdaCoFNet()


METHOD = Method(
    "adacof",
    "AdaCoF (F=5, D=1 release): U-Net per-pixel 5x5 kernel weights and offsets for each frame, "
    "AdaCoF warps blended by an occlusion map; RGB [0, 1] frames, means subtracted inside",
    load,
    fit=Padding(32, mode="reflect"),
    weights=(CHECKPOINT,),
    trainable=Trainable(build_network, CHECKPOINT.key, starts=(CHECKPOINT,)),
)
