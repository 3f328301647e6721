"""Super SloMo as a benchmark method, and as a network ``atdkit train`` fine-tunes or trains.

Frames are padded (replicated edges) to a multiple of 32 px and the output cropped back; at
the benchmark's 960x540, 4 rows are added. (The port's own scripts resize the frames down to
the multiple of 32 below instead.)
"""

from __future__ import annotations

import torch

from atdkit.benchmark.checkpoint import CheckpointError
from atdkit.benchmark.methods import Method, MethodError, Padding, Trainable, WeightFile
from atdkit.benchmark.methods.superslomo.model import WEIGHTS_KEY, SuperSloMo

CHECKPOINT = WeightFile(
    key=WEIGHTS_KEY,
    filename="SuperSloMo.ckpt",
    source="github.com/avinashpaliwal/Super-SloMo (README 'Pretrained model', Google Drive; trained on Adobe240fps), "
    "or an atdkit train --method superslomo run",
    keys=("state_dictFC", "state_dictAT"),
)


def load_network(path, device: torch.device) -> SuperSloMo:
    try:
        return SuperSloMo.from_checkpoint(path, device)
    except CheckpointError as error:
        raise MethodError(str(error)) from None


def load(weights: dict, device: torch.device):
    network = load_network(weights[CHECKPOINT.key], device)
    return lambda frame1, frame3, flows, t=0.5: network(frame1, frame3, t=t)


def build_network(weights: dict) -> SuperSloMo:
    """A network to train: the public weights when given (fine-tuning), random otherwise."""
    return (
        load_network(weights[CHECKPOINT.key], torch.device("cpu")).train()
        if CHECKPOINT.key in weights
        else SuperSloMo()
    )


METHOD = Method(
    "superslomo",
    "Super SloMo (public PyTorch port's weights): U-Net flows both ways, "
    "flows to time t (eq. 4) refined with visibility maps, backward warping",
    load,
    fit=Padding(32),
    weights=(CHECKPOINT,),
    trainable=Trainable(build_network, CHECKPOINT.key, starts=(CHECKPOINT,)),
    any_timestep=True,
)
