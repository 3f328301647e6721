"""RIFE 4.6 as a benchmark method (not trainable here).

Frames are padded with zeros on the right and bottom to a multiple of 32 px, as RIFE's own
tools pad (Practical-RIFE's scripts pad further, to 64 or 128 px; 32 is what the network
needs at scale 1.0, and what vs-rife uses for 4.6), and the output is cropped back. The
timestep is 0.5; one pass, no ensembling (Practical-RIFE's defaults).
"""

from __future__ import annotations

import torch

from atdkit.benchmark.checkpoint import CheckpointError
from atdkit.benchmark.methods import Method, MethodError, Padding, WeightFile
from atdkit.benchmark.methods.rife.ifnet import IFNet

FLOWNET = WeightFile(
    key="rife",
    filename="flownet.pkl",
    source="Practical-RIFE v4.6 of 2022-09-26 (train_log/flownet.pkl of the v4.6 zip linked from "
    "github.com/hzwer/Practical-RIFE's README then: drive.google.com/file/d/1EAbsfY7mjnXNa6RAsATj2ImAEqmHTjbE; "
    "or flownet_v4.6.pkl of HolyWu/vs-rife's releases)",
)


def load(weights: dict, device: torch.device):
    try:
        network = IFNet.from_checkpoint(weights[FLOWNET.key], device)
    except CheckpointError as error:
        raise MethodError(str(error)) from None
    return lambda frame1, frame3, flows: network(frame1, frame3, 0.5)


METHOD = Method(
    "rife",
    "RIFE 4.6 (Practical-RIFE v4.6): IFNet, 4 coarse-to-fine flow blocks (scales 8/4/2/1), "
    "timestep 0.5, mask-blended warps",
    load,
    fit=Padding(32, mode="constant"),
    weights=(FLOWNET,),
)
