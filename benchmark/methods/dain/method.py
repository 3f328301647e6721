"""DAIN as a benchmark method, run as the authors' ``demo_MiddleBury.py`` runs it.

Frames are RGB in [0, 1] (no mean subtracted). Each side is padded by replicating the edges, centred
(the extra pixel, if odd, at the right or bottom), up to the next multiple of 128, or by 32 px on both
ends when it already is one: 960x540 becomes 1024x640. The rectified frame (``save_which=1``) is
cropped back and clamped to [0, 1] (the demo then rounds to 8 bits: the scoring profile decides that).

Trainable: ``atdkit train --method dain`` fine-tunes the whole network from best.pth (or trains it from
PyTorch's default initialisation) on the unclamped rectified frame, with the CUDA layers' own gradients
(``projection``, ``adaptive_warp``) and the original's detaching (contexts warped by detached flows and
kernels; the log depth stacked on the contexts detached) and hole rule (no hole filling under gradients).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from atdkit.benchmark.checkpoint import CheckpointError
from atdkit.benchmark.methods import Method, MethodError, Trainable, WeightFile
from atdkit.benchmark.methods.dain.model import DAIN, WEIGHTS_KEY

BEST = WeightFile(
    key=WEIGHTS_KEY,
    filename="best.pth",
    source="baowenbo/DAIN (README 'Testing Pre-trained Models': http://vllab1.ucmerced.edu/~wenbobao/DAIN/best.pth, "
    "saved into model_weights/best.pth), or an atdkit train --method dain run",
)


def padding(size: int) -> tuple[int, int]:
    """(before, after) for one side of ``size`` px, as demo_MiddleBury.py pads."""
    if size % 128:
        extra = -size % 128
        return extra // 2, extra - extra // 2
    return 32, 32


def padded_forward(network: DAIN, frame1: torch.Tensor, frame3: torch.Tensor) -> torch.Tensor:
    """The rectified middle frame of RGB frames in [0, 1] of any size, padded and cropped as the demo does."""
    height, width = frame1.shape[-2:]
    (left, right), (top, bottom) = padding(width), padding(height)
    frames = [F.pad(frame, (left, right, top, bottom), mode="replicate") for frame in (frame1, frame3)]
    return network(*frames)["frame"][..., top : top + height, left : left + width]


def interpolate(network: DAIN, frame1: torch.Tensor, frame3: torch.Tensor) -> torch.Tensor:
    """:func:`padded_forward` clamped to [0, 1], as the demo clips before saving."""
    return padded_forward(network, frame1, frame3).clamp(0, 1)


def load_network(path, device: torch.device) -> DAIN:
    try:
        return DAIN.from_checkpoint(path, device)
    except CheckpointError as error:
        raise MethodError(str(error)) from None


def load(weights: dict, device: torch.device):
    network = load_network(weights[BEST.key], device)
    return lambda frame1, frame3, flows, t=0.5: interpolate(network, frame1, frame3)


def build_network(weights: dict) -> DAIN:
    """A network to train: the released (or an atdkit-trained) best.pth when given, PyTorch's default
    initialisation otherwise (DAIN's own training starts PWC-Net and MegaDepth from their published files,
    which are not offered here)."""
    return load_network(weights[BEST.key], torch.device("cpu")).train() if BEST.key in weights else DAIN()


TRAINABLE = Trainable(
    build_network,
    WEIGHTS_KEY,
    starts=(BEST,),
    forward=lambda network, frame1, frame3, flows: padded_forward(network, frame1, frame3),
)
METHOD = Method(
    "dain",
    "DAIN (baowenbo/DAIN best.pth): PWC-Net flows, MegaDepth depth, depth-aware flow projection, "
    "4x4 adaptive warping of frames and contexts, residual synthesis; RGB in [0, 1], edges replicated "
    "(centred) to a multiple of 128 (+32 px a side at a multiple), output cropped and clamped",
    load,
    weights=(BEST,),
    trainable=TRAINABLE,
)
