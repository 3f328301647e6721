"""QVI as a benchmark method, and as a network ``atdkit train`` fine-tunes.

The interpolator takes ``neighbours=(frame0, frame4)``, the frames one interval before frame1 and
after frame3 (``atdkit bench`` reads them from the source film of an atdkit dataset, or replicates
frame1 and frame3 where it cannot: ``note`` says which), and any t in (0, 1). Frames go in at the
size scored, unpadded: the network takes any size (module doc of :mod:`.model`).

Training follows the release's train.py: PWC-Net frozen, the refinement U-Net and the mask network
trained. The training loop feeds triplets, without neighbours: the network trains in the release's
two-frame (linear-motion) mode, whose flows to t equal the quadratic ones for uniform motion.
"""

from __future__ import annotations

from pathlib import Path

import torch

from atdkit.benchmark.checkpoint import CheckpointError
from atdkit.benchmark.methods import Method, MethodError, Trainable, WeightFile
from atdkit.benchmark.methods.qvi.model import QVI, WEIGHTS_KEY
from atdkit.benchmark.methods.qvi.pwcnet import PWCNet

CHECKPOINT = WeightFile(
    key=WEIGHTS_KEY,
    filename="model.pt",
    source="github.com/xuxy09/QVI (README 'Download pretrained model': model.pt on Dropbox, the qvi_release/model.pt "
    "that configs/test_config.py loads), or an atdkit train --method qvi run",
    keys=("model_state_dict",),
)
PWC = WeightFile(
    key="qvi-pwc",
    filename="pwc-checkpoint.pt",
    source="github.com/xuxy09/QVI (README 'Download weights of PWC-Net': pwc-checkpoint.pt on Dropbox, utils/; "
    "sniklaus/pytorch-pwc's network-default.pytorch has the same layout)",
)


def load_network(path: Path, device: torch.device) -> QVI:
    try:
        return QVI.from_checkpoint(path, device)
    except CheckpointError as error:
        raise MethodError(str(error)) from None


def load(weights: dict, device: torch.device):
    network = load_network(weights[CHECKPOINT.key], device)

    def interpolate(frame1, frame3, flows=None, t=0.5, neighbours=None):
        return network(frame1, frame3, t=t, neighbours=neighbours)

    return interpolate


def build_network(weights: dict) -> QVI:
    """A network to train: the released weights (``qvi``) or a pretrained PWC-Net (``qvi-pwc``) with the
    rest random, or all random; PWC-Net frozen, as the release trains."""
    if CHECKPOINT.key in weights:
        network = load_network(weights[CHECKPOINT.key], torch.device("cpu")).train()
    else:
        network = QVI()
        if PWC.key in weights:
            try:
                network.flownet = PWCNet.from_checkpoint(weights[PWC.key])
            except CheckpointError as error:
                raise MethodError(str(error)) from None
    network.flownet.requires_grad_(False)
    return network


def train_forward(network: QVI, frame1: torch.Tensor, frame3: torch.Tensor, flows=None) -> torch.Tensor:
    return network(frame1, frame3)  # triplets only: the two-frame mode


METHOD = Method(
    "qvi",
    "QVI (authors' release): PWC-Net flows to the neighbouring frames, quadratic flows to t, flow reversal, "
    "adaptive flow filtering, mask-weighted synthesis; RGB minus the QVI-960 means, unpadded",
    load,
    weights=(CHECKPOINT,),
    trainable=Trainable(build_network, CHECKPOINT.key, starts=(CHECKPOINT, PWC), forward=train_forward),
    any_timestep=True,
    neighbours=True,
)
