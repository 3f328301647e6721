"""SoftSplat as a benchmark method: the weights of an ``atdkit train --method softsplat`` run.

Training starts from the public PWC-Net weights when given (``--weights pwcnet=...``), from
random ones otherwise. Frames are padded to a multiple of 4 px (the GridNet halves them twice;
nothing is padded at 960x540); PWC-Net resizes them to a multiple of 64 inside, as its port does.
"""

from __future__ import annotations

from pathlib import Path

import torch

from atdkit.benchmark.checkpoint import CheckpointError
from atdkit.benchmark.methods import Method, MethodError, Padding, Trainable, WeightFile, load_trained
from atdkit.benchmark.methods.softsplat.model import SoftSplat
from atdkit.benchmark.methods.softsplat.pwcnet import PWCNet

TRAINED = WeightFile(
    key="softsplat",
    filename="softsplat.pt",
    source="an `atdkit train --method softsplat` run (RUN_DIR/best.pt); no public SoftSplat weights exist",
)
PWCNET = WeightFile(
    key="pwcnet",
    filename="network-default.pytorch",
    source="sniklaus/pytorch-pwc (http://content.sniklaus.com/github/pytorch-pwc/network-default.pytorch)",
)


def build_network(weights: dict[str, Path]) -> SoftSplat:
    """A network to train: PWC-Net from ``weights['pwcnet']`` when given, everything else random."""
    if PWCNET.key not in weights:
        return SoftSplat()
    try:
        return SoftSplat(flownet=PWCNet.from_checkpoint(weights[PWCNET.key]))
    except CheckpointError as error:
        raise MethodError(str(error)) from None


def load(weights: dict[str, Path], device: torch.device) -> SoftSplat:
    try:
        return load_trained(METHOD, weights[TRAINED.key], device)
    except CheckpointError as error:
        raise MethodError(str(error)) from None


TRAINABLE = Trainable(build_network, TRAINED.key, starts=(PWCNET,))
METHOD = Method(
    "softsplat",
    "SoftSplat: PWC-Net flows both ways, softmax splatting of frames and features, GridNet synthesis",
    load,
    fit=Padding(multiple=4),
    weights=(TRAINED,),
    trainable=TRAINABLE,
    any_timestep=True,
)
