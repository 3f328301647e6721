"""AnimeInterp as benchmark methods: the full model and the two ablations of the paper's Table 1.

- ``animeinterp``: SGM flows, refined by RFR, splatting and synthesis;
- ``animeinterp-nosgm``: the same network started from a zero flow ("w/o SGM");
- ``animeinterp-norfr``: the SGM flows used directly for warping and synthesis ("w/o RFR").

Run options (``atdkit bench --sgm ... --sgm-style ...``) choose where the SGM flows come from:
computed from the frames (the default; segmentation on the CPU, VGG-19 on the run's device,
fp32 even under ``--fp16``), or the dataset's precomputed flows (``--sgm precomputed``: the
released ``test_2k_pre_calc_sgm_flows/``, as the official test script ran it). The line style
is picked per triplet from its name (``auto``: "western" for Disney triplets, as the official
scripts did) or fixed. ``--sgm-cache DIR`` keeps computed flows in DIR (:mod:`.sgm.cache`) and
reads them back for the same frames: the other SGM method of the run, a resumed run, a run with
another checkpoint. Frames are padded to a multiple of 4 px (the GridNet halves them twice);
at the benchmark's 960x540 nothing is padded.
"""
from __future__ import annotations

from dataclasses import replace
from functools import partial
from pathlib import Path

import numpy as np
import torch

from benchmark.checkpoint import CheckpointError
from benchmark.methods import Method, MethodError, Padding, Trainable, WeightFile, sha256
from benchmark.methods.animeinterp.model import AnimeInterp
from benchmark.methods.animeinterp.sgm.lines import STYLES, style_for

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
SGM_SOURCES = ("compute", "precomputed")
SGM_STYLES = ("auto", *STYLES)


def load_model(weights: dict, device: torch.device) -> AnimeInterp:
    try:
        return AnimeInterp.from_checkpoint(weights[CHECKPOINT.key], device)
    except CheckpointError as error:
        raise MethodError(str(error)) from None


def load_sgm(weights: dict, device: torch.device, style: str, cache: Path | None = None):
    """A function (frame0, frame1, flows, ids) -> (flow01, flow10): SGM flows of a batch, on the
    frames' device; with ``cache`` (a folder), kept there per triplet id and read back for the same frames."""
    from benchmark.methods.animeinterp.sgm import VGGFeatures, compute_sgm
    from benchmark.methods.animeinterp.sgm.cache import FlowCache

    try:
        vgg = VGGFeatures.from_file(weights[VGG19.key], device=device)
    except CheckpointError as error:
        raise MethodError(str(error)) from None
    if cache is not None:
        try:
            cache.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise MethodError(f"--sgm-cache {cache}: cannot make this folder ({error.strerror})") from None
    vgg_digest = sha256(weights[VGG19.key]) if cache is not None else ""

    def sgm_pair(frame0: np.ndarray, frame1: np.ndarray, pair_style: str) -> tuple[np.ndarray, np.ndarray]:
        return compute_sgm(frame0, frame1, vgg, style=pair_style)[:2]

    def flows(frame0: torch.Tensor, frame1: torch.Tensor, given, ids) -> tuple[torch.Tensor, torch.Tensor]:
        to_uint8 = lambda frames: np.round(frames.float().clamp(0, 1).permute(0, 2, 3, 1).cpu().numpy() * 255).astype(np.uint8)  # noqa: E731
        names = ids or [None] * len(frame0)
        pairs = []
        with torch.autocast(device.type, enabled=False):
            for a, b, name in zip(to_uint8(frame0), to_uint8(frame1), names):
                pair_style = style_for(name or "") if style == "auto" else style
                compute = partial(sgm_pair, a, b, pair_style)
                pairs.append(compute() if cache is None or name is None else FlowCache(cache, vgg_digest, pair_style).flows(name, a, b, compute))
        return tuple(torch.from_numpy(np.stack(side)).to(frame0.device) for side in zip(*pairs))

    return flows


def precomputed_flows(frame0, frame1, given, ids):
    if given is None:
        raise ValueError("no precomputed SGM flows for this triplet")
    return given


def initial_flows(weights: dict, device: torch.device, sgm: str, style: str, cache: Path | None):
    return precomputed_flows if sgm == "precomputed" else load_sgm(weights, device, style, cache)


def load_full(weights, device, sgm: str = "compute", style: str = "auto", cache: Path | None = None):
    model, flows_of = load_model(weights, device), initial_flows(weights, device, sgm, style, cache)
    return lambda frame1, frame3, flows, ids=None: model(frame1, frame3, *flows_of(frame1, frame3, flows, ids))[0]


def load_norfr(weights, device, sgm: str = "compute", style: str = "auto", cache: Path | None = None):
    model, flows_of = load_model(weights, device), initial_flows(weights, device, sgm, style, cache)
    return lambda frame1, frame3, flows, ids=None: model.synthesise(frame1, frame3, *flows_of(frame1, frame3, flows, ids))


def load_nosgm(weights, device):
    model = load_model(weights, device)
    return lambda frame1, frame3, flows: model(frame1, frame3, None, None)[0]


def configure(method: Method, options: dict[str, str]) -> Method:
    """``method`` with its SGM flows taken as ``options`` say: ``sgm`` (compute | precomputed),
    ``sgm_style`` (auto | japan | western), ``sgm_cache`` (a folder for computed flows, or absent)."""
    sgm, style, cache = options.get("sgm", "compute"), options.get("sgm_style", "auto"), options.get("sgm_cache")
    if sgm not in SGM_SOURCES or style not in SGM_STYLES:
        raise MethodError(f"--sgm must be one of {', '.join(SGM_SOURCES)} and --sgm-style one of {', '.join(SGM_STYLES)}")
    if sgm == "precomputed":
        if cache:
            raise MethodError("--sgm-cache keeps computed SGM flows; it does not go with --sgm precomputed")
        return replace(method, load=partial(method.load, sgm=sgm), flows="required", weights=(CHECKPOINT,),
                       takes_ids=False, settings=(("sgm", "precomputed flows of the data"),))
    settings = (("sgm", "computed from the frames"), ("sgm_style", style))
    if cache and Path(cache).exists() and not Path(cache).is_dir():
        raise MethodError(f"--sgm-cache {cache}: a file, not a folder")
    if cache:
        settings += (("sgm_cache", f"{Path(cache).resolve()} (seconds per triplet leave out flows read back from it)"),)
    return replace(method, load=partial(method.load, style=style, cache=Path(cache) if cache else None), settings=settings)


def build_network(weights: dict) -> AnimeInterp:
    """A network to train: the released weights when given (fine-tuning), random otherwise."""
    return load_model(weights, torch.device("cpu")).train() if CHECKPOINT.key in weights else AnimeInterp()


def network_forward(network: AnimeInterp, frame1, frame3, flows):
    return network(frame1, frame3, *(flows or (None, None)))[0]


TRAINABLE = Trainable(build_network, CHECKPOINT.key, starts=(CHECKPOINT,), forward=network_forward)
FULL = Method("animeinterp", "AnimeInterp: SGM flows, RFR refinement, splatting + GridNet synthesis",
              load_full, fit=FIT, weights=(CHECKPOINT, VGG19), trainable=TRAINABLE, takes_ids=True, configure=configure)
NO_SGM = Method("animeinterp-nosgm", "AnimeInterp w/o SGM: RFR from a zero flow, splatting + GridNet synthesis",
                load_nosgm, fit=FIT, weights=(CHECKPOINT,))
NO_RFR = Method("animeinterp-norfr", "AnimeInterp w/o RFR: SGM flows used directly for splatting + GridNet synthesis",
                load_norfr, fit=FIT, weights=(CHECKPOINT, VGG19), takes_ids=True, configure=configure)
