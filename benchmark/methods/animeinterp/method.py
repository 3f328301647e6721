"""AnimeInterp as benchmark methods: the full model and the two ablations of the paper's Table 1.

- ``animeinterp``: SGM flows, refined by RFR, splatting and synthesis;
- ``animeinterp-nosgm``: the same network started from a zero flow ("w/o SGM");
- ``animeinterp-norfr``: the SGM flows used directly for warping and synthesis ("w/o RFR").

Its run options (:data:`OPTIONS`) choose where the SGM flows come from: computed from the frames
(the default; segmentation on the CPU, VGG-19 on the run's device, fp32 even under ``--fp16``),
or the data's precomputed flows (``--sgm precomputed``: the released
``test_2k_pre_calc_sgm_flows/``, as the official test script ran it; implied by ``atdkit
interpolate --flows``). The line style is picked per triplet from its name (``auto``: "western"
for Disney triplets, as the official scripts did) or fixed. ``--sgm-cache DIR`` keeps computed
flows in DIR (:mod:`.sgm.cache`) and reads them back for the same frames: the other SGM method
of the run, a resumed run, a run with another checkpoint, a training run. Training computes
each triplet's flows once at the training size into the same kind of cache (default
``DATASET_DIR/sgm_flows/``); ``--no-sgm`` trains on zero flows instead. Frames are padded to a
multiple of 4 px (the GridNet halves them twice); at the benchmark's 960x540 nothing is padded.

All three take any time t between the frames, as the official ``forward(I1, I2, F12i, F21i, t)``
does: the flows (SGM, RFR) do not depend on t; frames and features are splatted along t F01 and
(1 - t) F10 (eq. 9) before the GridNet.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import replace
from functools import partial
from pathlib import Path

import numpy as np
import torch

from atdkit.benchmark.checkpoint import CheckpointError
from atdkit.benchmark.methods import Method, MethodError, Option, Padding, Trainable, TrainingFlows, WeightFile, sha256
from atdkit.benchmark.methods.animeinterp.model import AnimeInterp
from atdkit.benchmark.methods.animeinterp.sgm import compute_sgm
from atdkit.benchmark.methods.animeinterp.sgm.cache import FlowCache
from atdkit.benchmark.methods.animeinterp.sgm.lines import STYLES, style_for

CHECKPOINT = WeightFile(
    key="animeinterp",
    filename="anime_interp_full.ckpt",
    source="the AnimeInterp authors' release (github.com/lisiyao21/AnimeInterp, checkpoints/anime_interp_full.ckpt)",
    keys=("model_state_dict",),
)
VGG19 = WeightFile(
    key="vgg19",
    filename="vgg19-dcbb9e9d.pth",
    source="torchvision's ImageNet VGG-19 weights (download.pytorch.org/models/vgg19-dcbb9e9d.pth)",
)
FIT = Padding(multiple=4)
SGM_SOURCES = ("compute", "precomputed")
SGM_STYLES = ("auto", *STYLES)
TRAINING_CACHE = "sgm_flows"  # training's default cache folder, in the dataset
OPTIONS = (
    Option(
        "--sgm",
        "AnimeInterp's SGM flows: computed from the frames (default) or the data's precomputed ones",
        choices=SGM_SOURCES,
        commands=("bench", "interpolate"),
    ),
    Option(
        "--sgm-style",
        "SGM line style (default auto: per triplet, western for Disney triplets as the official scripts)",
        choices=SGM_STYLES,
    ),
    Option(
        "--sgm-cache",
        "keep computed SGM flows in DIR and read them back for the same frames (bench default: none; "
        f"train default: DATASET_DIR/{TRAINING_CACHE})",
        type=Path,
        metavar="DIR",
        commands=("bench", "train"),
    ),
    Option(
        "--no-sgm",
        "train on zero flows instead of SGM flows (no VGG-19 needed; score it as animeinterp-nosgm)",
        switch=True,
        commands=("train",),
    ),
)


def load_model(weights: dict, device: torch.device) -> AnimeInterp:
    try:
        return AnimeInterp.from_checkpoint(weights[CHECKPOINT.key], device)
    except CheckpointError as error:
        raise MethodError(str(error)) from None


def load_vgg(weights: dict, device: torch.device):
    from atdkit.benchmark.methods.animeinterp.sgm import VGGFeatures

    try:
        return VGGFeatures.from_file(weights[VGG19.key], device=device)
    except CheckpointError as error:
        raise MethodError(str(error)) from None


def make_cache_folder(cache: Path) -> Path:
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise MethodError(f"--sgm-cache {cache}: cannot make this folder ({error.strerror})") from None
    return cache


def to_uint8(frames: torch.Tensor) -> list[np.ndarray]:
    """Frames (B, 3, H, W) in [0, 1] as SGM reads them: RGB uint8 (H, W, 3) each."""
    return list(np.round(frames.float().clamp(0, 1).permute(0, 2, 3, 1).cpu().numpy() * 255).astype(np.uint8))


class SGMFlows:
    """SGM flows of a batch: ``flows(frame0, frame1, given, ids)`` -> (flow01, flow10) on the frames' device.

    With a ``cache`` folder they are kept there per triplet id and read back for the same frames.
    ``prepare(frame0, frame1, ids)`` computes the flows of triplets to come, from another thread (the
    bench's readers), while the network runs on the current ones; a batch takes them when its frames
    are the ones prepared, and otherwise computes its own, so the flows are the same either way.
    """

    def __init__(self, vgg, style: str, cache: Path | None, vgg_digest: str):
        self.vgg, self.style, self.cache, self.vgg_digest = vgg, style, cache, vgg_digest
        self.prepared: dict[str, tuple[np.ndarray, np.ndarray, Future]] = {}
        self.lock = threading.Lock()

    def pair(self, frame0: np.ndarray, frame1: np.ndarray, name: str | None) -> tuple[np.ndarray, np.ndarray]:
        pair_style = style_for(name or "") if self.style == "auto" else self.style
        compute = partial(self.compute, frame0, frame1, pair_style)
        if self.cache is None or name is None:
            return compute()
        return FlowCache(self.cache, self.vgg_digest, pair_style).flows(name, frame0, frame1, compute)

    def compute(self, frame0: np.ndarray, frame1: np.ndarray, style: str) -> tuple[np.ndarray, np.ndarray]:
        with torch.autocast(self.vgg.mean.device.type, enabled=False):  # VGG-19 in fp32, even under --fp16
            return compute_sgm(frame0, frame1, self.vgg, style=style)[:2]

    def prepare(self, frame0: torch.Tensor, frame1: torch.Tensor, ids: list[str]) -> None:
        """Compute the flows of triplets ``ids`` (their frames as the batch will give them) for a later batch."""
        for a, b, name in zip(to_uint8(frame0), to_uint8(frame1), ids):
            future: Future = Future()
            with self.lock:
                self.prepared[name] = (a, b, future)
            try:
                future.set_result(self.pair(a, b, name))
            except Exception as error:  # the batch meets it, as it would computing the flows itself
                future.set_exception(error)

    def take(self, frame0: np.ndarray, frame1: np.ndarray, name: str | None) -> tuple[np.ndarray, np.ndarray]:
        """The flows prepared for these frames (waiting for them), else computed now."""
        with self.lock:
            kept = self.prepared.pop(name, None) if name is not None else None
        if kept is not None and np.array_equal(kept[0], frame0) and np.array_equal(kept[1], frame1):
            return kept[2].result()
        return self.pair(frame0, frame1, name)

    def __call__(self, frame0: torch.Tensor, frame1: torch.Tensor, given, ids) -> tuple[torch.Tensor, torch.Tensor]:
        names = ids or [None] * len(frame0)
        pairs = [self.take(a, b, name) for a, b, name in zip(to_uint8(frame0), to_uint8(frame1), names)]
        return tuple(torch.from_numpy(np.stack(side)).to(frame0.device) for side in zip(*pairs))


def load_sgm(weights: dict, device: torch.device, style: str, cache: Path | None = None) -> SGMFlows:
    """SGM flows of a batch on the frames' device (:class:`SGMFlows`)."""
    vgg = load_vgg(weights, device)
    if cache is not None:
        make_cache_folder(cache)
    return SGMFlows(vgg, style, cache, sha256(weights[VGG19.key]) if cache is not None else "")


def precomputed_flows(frame0, frame1, given, ids):
    if given is None:
        raise ValueError("no precomputed SGM flows for this triplet")
    return given


def initial_flows(weights: dict, device: torch.device, sgm: str, style: str, cache: Path | None):
    return precomputed_flows if sgm == "precomputed" else load_sgm(weights, device, style, cache)


class WithFlows:
    """``forward(frame1, frame3, flow13, flow31, t)`` fed the initial flows. When they are computed (SGM)
    and the network runs on a GPU, ``prepare(frame1, frame3, ids)`` computes a later batch's on the CPU
    meanwhile (:meth:`SGMFlows.prepare`); on the CPU both would share the same cores, and it does not."""

    def __init__(self, forward: Callable, flows_of: Callable, device: torch.device):
        self.forward, self.flows_of = forward, flows_of
        if isinstance(flows_of, SGMFlows) and device.type == "cuda":
            self.prepare = flows_of.prepare

    def __call__(self, frame1, frame3, flows, t=0.5, ids=None) -> torch.Tensor:
        return self.forward(frame1, frame3, *self.flows_of(frame1, frame3, flows, ids), t=t)


def load_full(weights, device, sgm: str = "compute", style: str = "auto", cache: Path | None = None) -> WithFlows:
    model = load_model(weights, device)
    forward = lambda *inputs, t: model(*inputs, t=t)[0]  # noqa: E731
    return WithFlows(forward, initial_flows(weights, device, sgm, style, cache), device)


def load_norfr(weights, device, sgm: str = "compute", style: str = "auto", cache: Path | None = None) -> WithFlows:
    model = load_model(weights, device)
    return WithFlows(model.synthesise, initial_flows(weights, device, sgm, style, cache), device)


def load_nosgm(weights, device):
    model = load_model(weights, device)
    return lambda frame1, frame3, flows, t=0.5: model(frame1, frame3, None, None, t=t)[0]


def training_flows(style: str, cache: Path | None) -> TrainingFlows:
    """SGM flows between frame1 and frame3 of each training triplet, kept in a :class:`~.sgm.cache.FlowCache`."""

    def prepare(items, weights: dict, device: torch.device, dataset_root: Path, advance) -> dict[str, Path]:
        from atdkit.benchmark.methods.animeinterp.sgm import compute_sgm
        from atdkit.benchmark.methods.animeinterp.sgm.cache import FlowCache

        root, digest, vgg = (
            make_cache_folder(cache or Path(dataset_root) / TRAINING_CACHE),
            sha256(weights[VGG19.key]),
            [],
        )
        folders = {}
        for triplet_id, load_frames in items:
            frames = load_frames()
            pair_style = style_for(triplet_id) if style == "auto" else style

            def compute(frames=frames, pair_style=pair_style):
                vgg[:] = vgg or [load_vgg(weights, device)]  # read (548 MB) only when some flows are missing
                return compute_sgm(frames[0], frames[2], vgg[0], style=pair_style)[:2]

            folders[triplet_id] = FlowCache(root, digest, pair_style).ensure(triplet_id, frames[0], frames[2], compute)
            advance()
        return folders

    where = cache or f"DATASET_DIR/{TRAINING_CACHE}"
    return TrainingFlows(f"SGM flows, line style {style}, kept in {where}", (VGG19,), prepare)


def configure(method: Method, options: dict[str, object]) -> Method:
    """``method`` with its SGM flows taken as ``options`` say: ``sgm`` (compute | precomputed),
    ``sgm_style`` (auto | japan | western), ``sgm_cache`` (a folder for computed flows, or None) and,
    for training, ``no_sgm`` (zero flows)."""
    sgm, style, cache = options.get("sgm") or "compute", options.get("sgm_style") or "auto", options.get("sgm_cache")
    if sgm not in SGM_SOURCES or style not in SGM_STYLES:
        raise MethodError(
            f"--sgm must be one of {', '.join(SGM_SOURCES)} and --sgm-style one of {', '.join(SGM_STYLES)}"
        )
    if cache and Path(cache).exists() and not Path(cache).is_dir():
        raise MethodError(f"--sgm-cache {cache}: a file, not a folder")
    cache = Path(cache) if cache else None
    if method.trainable is not None:
        flows = None if options.get("no_sgm") else training_flows(style, cache)
        method = replace(method, trainable=replace(method.trainable, flows=flows))
    if sgm == "precomputed":
        if cache:
            raise MethodError("--sgm-cache keeps computed SGM flows; it does not go with --sgm precomputed")
        return replace(
            method,
            load=partial(method.load, sgm=sgm),
            flows="required",
            weights=(CHECKPOINT,),
            takes_ids=False,
            settings=(("sgm", "precomputed flows of the data"),),
        )
    settings = (
        ("sgm", "computed from the frames (on a GPU, by atdkit bench ahead of each batch: seconds count the wait)"),
        ("sgm_style", style),
    )
    if cache:
        settings += (("sgm_cache", f"{cache.resolve()} (seconds per triplet leave out flows read back from it)"),)
    return replace(method, load=partial(method.load, style=style, cache=cache), settings=settings)


def build_network(weights: dict) -> AnimeInterp:
    """A network to train: the released weights when given (fine-tuning), random otherwise."""
    return load_model(weights, torch.device("cpu")).train() if CHECKPOINT.key in weights else AnimeInterp()


def network_forward(network: AnimeInterp, frame1, frame3, flows):
    return network(frame1, frame3, *(flows or (None, None)))[0]


TRAINABLE = Trainable(
    build_network, CHECKPOINT.key, starts=(CHECKPOINT,), forward=network_forward, flows=training_flows("auto", None)
)
FULL = Method(
    "animeinterp",
    "AnimeInterp: SGM flows, RFR refinement, splatting + GridNet synthesis",
    load_full,
    fit=FIT,
    weights=(CHECKPOINT, VGG19),
    trainable=TRAINABLE,
    takes_ids=True,
    options=OPTIONS,
    configure=configure,
    given_flows=(("sgm", "precomputed"),),
    any_timestep=True,
)
NO_SGM = Method(
    "animeinterp-nosgm",
    "AnimeInterp w/o SGM: RFR from a zero flow, splatting + GridNet synthesis",
    load_nosgm,
    fit=FIT,
    weights=(CHECKPOINT,),
    any_timestep=True,
)
NO_RFR = Method(
    "animeinterp-norfr",
    "AnimeInterp w/o RFR: SGM flows used directly for splatting + GridNet synthesis",
    load_norfr,
    fit=FIT,
    weights=(CHECKPOINT, VGG19),
    takes_ids=True,
    options=OPTIONS[:3],
    configure=configure,
    given_flows=(("sgm", "precomputed"),),
    any_timestep=True,
)
