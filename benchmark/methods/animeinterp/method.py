"""AnimeInterp as benchmark methods: the full model and the two ablations of the paper's Table 1.

- ``animeinterp``: SGM flows computed from the frames, refined by RFR, splatting and synthesis;
- ``animeinterp-nosgm``: the same network started from a zero flow ("w/o SGM");
- ``animeinterp-norfr``: the SGM flows used directly for warping and synthesis ("w/o RFR");
- ``animeinterp-precomputed``: the full model on the dataset's released SGM flows
  (``test_2k_pre_calc_sgm_flows/``), as the official test script ran it.

SGM runs per frame pair (segmentation on the CPU, VGG-19 on the run's device) in fp32 even
under ``--fp16``. Frames are padded to a multiple of 4 px (the GridNet halves them twice);
at the benchmark's 960x540 nothing is padded.
"""
from __future__ import annotations

import numpy as np
import torch

from benchmark.methods import Method, MethodError, Padding, Trainable, WeightFile
from benchmark.checkpoint import CheckpointError
from benchmark.methods.animeinterp.model import AnimeInterp

CHECKPOINT = WeightFile(
    key="animeinterp", filename="anime_interp_full.ckpt",
    source="the AnimeInterp authors' release (github.com/lisiyao21/AnimeInterp, checkpoints/anime_interp_full.ckpt)",
    keys=("model_state_dict",),
)
VGG19 = WeightFile(
    key="vgg19", filename="vgg19-dcbb9e9d.pth",
    source="torchvision's ImageNet VGG-19 weights (download.pytorch.org/models/vgg19-dcbb9e9d.pth)",
)
FIT = Padding(multiple=4)
SGM_STYLE = "japan"  # the official scripts used "western" only for folders named Disney*


def load_model(weights: dict, device: torch.device) -> AnimeInterp:
    try:
        return AnimeInterp.from_checkpoint(weights[CHECKPOINT.key], device)
    except CheckpointError as error:
        raise MethodError(str(error)) from None


def load_sgm(weights: dict, device: torch.device):
    """A function (frame0, frame1) -> (flow01, flow10): SGM flows of a batch, on the frames' device."""
    from benchmark.methods.animeinterp.sgm import VGGFeatures, compute_sgm

    try:
        vgg = VGGFeatures.from_file(weights[VGG19.key], device=device)
    except CheckpointError as error:
        raise MethodError(str(error)) from None

    def flows(frame0: torch.Tensor, frame1: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        to_uint8 = lambda frames: np.round(frames.float().clamp(0, 1).permute(0, 2, 3, 1).cpu().numpy() * 255).astype(np.uint8)  # noqa: E731
        pairs = []
        with torch.autocast(device.type, enabled=False):
            for a, b in zip(to_uint8(frame0), to_uint8(frame1)):
                flow01, flow10, _, _ = compute_sgm(a, b, vgg, style=SGM_STYLE)
                pairs.append((flow01, flow10))
        return tuple(torch.from_numpy(np.stack(side)).to(frame0.device) for side in zip(*pairs))

    return flows


def load_full(weights, device):
    model, sgm = load_model(weights, device), load_sgm(weights, device)
    return lambda frame1, frame3, flows: model(frame1, frame3, *sgm(frame1, frame3))[0]


def load_precomputed(weights, device):
    model = load_model(weights, device)

    def interpolate(frame1, frame3, flows):
        if flows is None:
            raise ValueError("no precomputed SGM flows for this triplet")
        return model(frame1, frame3, *flows)[0]

    return interpolate


def load_nosgm(weights, device):
    model = load_model(weights, device)
    return lambda frame1, frame3, flows: model(frame1, frame3, None, None)[0]


def load_norfr(weights, device):
    model, sgm = load_model(weights, device), load_sgm(weights, device)
    return lambda frame1, frame3, flows: model.synthesise(frame1, frame3, *sgm(frame1, frame3))


def build_network(weights: dict) -> AnimeInterp:
    """A network to train: the released weights when given (fine-tuning), random otherwise."""
    return load_model(weights, torch.device("cpu")).train() if CHECKPOINT.key in weights else AnimeInterp()


def network_forward(network: AnimeInterp, frame1, frame3, flows):
    return network(frame1, frame3, *(flows or (None, None)))[0]


TRAINABLE = Trainable(build_network, CHECKPOINT.key, starts=(CHECKPOINT,), forward=network_forward)
FULL = Method("animeinterp", "AnimeInterp: SGM flows from the frames, RFR refinement, splatting + GridNet synthesis",
              load_full, fit=FIT, weights=(CHECKPOINT, VGG19), trainable=TRAINABLE)
PRECOMPUTED = Method("animeinterp-precomputed", "AnimeInterp on the dataset's precomputed SGM flows (the official test)",
                     load_precomputed, flows="required", fit=FIT, weights=(CHECKPOINT,))
NO_SGM = Method("animeinterp-nosgm", "AnimeInterp w/o SGM: RFR from a zero flow, splatting + GridNet synthesis",
                load_nosgm, fit=FIT, weights=(CHECKPOINT,))
NO_RFR = Method("animeinterp-norfr", "AnimeInterp w/o RFR: SGM flows used directly for splatting + GridNet synthesis",
                load_norfr, fit=FIT, weights=(CHECKPOINT, VGG19))
