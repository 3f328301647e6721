"""Interpolation methods, one module each, found by name.

A method module (or subpackage) defines ``METHOD = Method(...)`` (a family of releases sharing code:
``METHODS = (...)``): a small declaration the harness reads to feed it (inputs, padding or resizing
rule, batching, device) and to record how it ran, and a ``load`` function that returns the
interpolator. Every module of this package is discovered automatically: adding a method is adding
one module. A method owns its priors: its run options (``Option``: ``atdkit bench``, ``interpolate``
and ``train`` offer them) and, for training, the flows its network takes beside the frames
(``TrainingFlows``).

An interpolator is called as ``interpolate(frame1, frame3, flows, t=0.5)`` with float32 tensors
(B, 3, H, W) in [0, 1] on the run's device, ``flows`` = (flow 1->3, flow 3->1), each
(B, 2, H, W) in pixels (channel 0 = x), or None, and ``t`` the time of the frame wanted between
frame1 (0) and frame3 (1): a float, or a (B,) tensor; it returns those frames (B, 3, H, W), in
any range (the metric profile clamps). Only methods declared ``any_timestep`` are given t != 0.5.
Methods declared ``neighbours`` are also given ``neighbours=(frame0, frame4)``, the frames one
interval before frame1 and after frame3, fitted like them. An interpolator may also offer
``prepare(frame1, frame3, ids)``: the bench calls it from its reading threads with the inputs of a
later batch, to work ahead (AnimeInterp's SGM flows on a GPU run).

Weights are always user-supplied files, never downloaded: ``--weights KEY=PATH``, or the
expected file name in :func:`weights_dir`. They are checked (sha256 when known, expected
checkpoint keys) before a run starts.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import pkgutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np
import torch

from atdkit.benchmark.checkpoint import (
    CheckpointError,
    check_layout,
    describe_training,
    layout_of,
    read_tensors,
    trained_state,
    training_info,
)


class Interpolator(Protocol):
    def __call__(
        self,
        frame1: torch.Tensor,
        frame3: torch.Tensor,
        flows: tuple[torch.Tensor, torch.Tensor] | None,
        t: float | torch.Tensor = 0.5,
    ) -> torch.Tensor: ...


class MethodError(Exception):
    """A method cannot run as asked (unknown name, missing or wrong weights); the message is one line."""


@dataclass(frozen=True)
class WeightFile:
    key: str  # what users name in --weights KEY=PATH
    filename: str  # the file's expected name (looked for in weights_dir())
    source: str  # where users get it
    keys: tuple[str, ...] = ()  # top-level keys the checkpoint must hold
    sha256: str | None = None
    aliases: tuple[str, ...] = ()  # other names users may give it with --weights (``rife`` for rife-4.6's file)
    folder: bool = False  # a folder of files (an unzipped release); the method's load checks what is inside

    @property
    def names(self) -> tuple[str, ...]:
        return (self.key, *self.aliases)


@dataclass(frozen=True)
class Padding:
    """Pad inputs to a multiple of ``multiple`` px (right and bottom), crop the output back."""

    multiple: int
    mode: str = "replicate"  # torch.nn.functional.pad mode

    def describe(self) -> str:
        return f"pad right/bottom to a multiple of {self.multiple} ({self.mode}), output cropped back"


@dataclass(frozen=True)
class Resize:
    """Resize inputs to the nearest multiple of ``multiple`` px (bilinear), resize the output back."""

    multiple: int

    def describe(self) -> str:
        return f"resize to the nearest multiple of {self.multiple} (bilinear, antialiased), output resized back"


@dataclass(frozen=True)
class Option:
    """A run option a method takes: the commands in ``commands`` offer it as ``flag`` (e.g. ``--sgm-style``),
    and the method's ``configure`` receives its value under :attr:`key` (None when not given)."""

    flag: str
    help: str
    choices: tuple[str, ...] | None = None
    type: Callable[[str], object] = str
    switch: bool = False  # a flag without a value (True when given)
    metavar: str | None = None  # how the help names its value
    commands: tuple[str, ...] = ("bench", "interpolate", "train")

    @property
    def key(self) -> str:
        return self.flag.removeprefix("--").replace("-", "_")


FrameLoader = Callable[[], np.ndarray]  # a triplet's frames, uint8 RGB (3, H, W, 3), read when called


@dataclass(frozen=True)
class TrainingFlows:
    """Flows a network takes beside the frames in training (AnimeInterp's SGM flows): computed from frame1 and
    frame3 of each training triplet once, kept on disk as the official flow files (one folder per triplet).

    ``prepare(items, weight_paths, device, dataset_root, advance)`` takes (triplet id, frame loader) pairs and
    returns each triplet's folder, computing what is not kept yet and calling ``advance()`` per triplet.
    """

    describe: str  # what the flows are and how they are made: recorded in checkpoints, checked on --resume
    weights: tuple[WeightFile, ...]  # the files computing them needs
    prepare: Callable[
        [Sequence[tuple[str, FrameLoader]], dict[str, Path], torch.device, Path, Callable[[], None]], dict[str, Path]
    ]


@dataclass(frozen=True)
class Trainable:
    """What ``atdkit train`` needs of a method: its network, fresh or from starting weights.

    ``build(weight_paths)`` returns the network initialised from whichever ``starts`` files
    it is given (pretrained parts, or the public checkpoint for fine-tuning), randomly elsewhere.
    ``forward(network, frame1, frame3, flows)`` gives the middle frames; default: the network's
    own forward. ``flows``: the flows it takes beside the frames, None when it takes none. A
    checkpoint written by ``atdkit train`` holds the network's ``state_dict()`` and stands in for
    the method's weight file ``weights_key``.
    """

    build: Callable[[dict[str, Path]], torch.nn.Module]
    weights_key: str
    starts: tuple[WeightFile, ...] = ()
    forward: Callable[..., torch.Tensor] | None = None
    flows: TrainingFlows | None = None


@dataclass(frozen=True)
class Method:
    name: str
    summary: str
    load: Callable[[dict[str, Path], torch.device], Interpolator]  # (weight paths by key, device)
    flows: str = "none"  # the data's precomputed flows: "none", "optional" or "required"
    fit: Padding | Resize | None = None  # how frames are fitted to what the network accepts
    weights: tuple[WeightFile, ...] = ()
    needs_gpu: bool = False
    batch_size: int = 1  # triplets per call (all of one size)
    trainable: Trainable | None = None  # how ``atdkit train`` builds its network; None: not trainable
    takes_ids: bool = False  # the interpolator also takes ``ids=[triplet ids]`` (e.g. to pick per-triplet settings)
    options: tuple[Option, ...] = ()  # run options the commands offer for it
    configure: Callable[[Method, dict[str, object]], Method] | None = None  # the method under a run's option values
    given_flows: tuple[tuple[str, str], ...] = ()  # option values implied when the user gives precomputed flows
    settings: tuple[tuple[str, str], ...] = ()  # what configure chose, recorded with the results
    any_timestep: bool = False  # the interpolator takes any t in (0, 1), not only 0.5
    neighbours: bool = False  # the interpolator also takes neighbours=(frame0, frame4) (QVI's four frames)
    aliases: tuple[str, ...] = ()  # other names it answers to (``rife`` for ``rife-4.6``)

    def facts(self) -> dict:
        return {
            "summary": self.summary,
            "flows": self.flows,
            "padding": self.fit.describe() if self.fit else "none",
            "batch_size": self.batch_size,
            "needs_gpu": self.needs_gpu,
            **({"settings": dict(self.settings)} if self.settings else {}),
        }

    def with_options(self, options: dict[str, object]) -> Method:
        """This method as a run's option values configure it (those of other methods are ignored)."""
        mine = {option.key: options.get(option.key) for option in self.options}
        return self.configure(self, mine) if self.configure else self


@lru_cache(maxsize=1)
def available() -> dict[str, Method]:
    """Every method of this package, by name."""
    found: dict[str, Method] = {}
    for module in pkgutil.iter_modules(__path__):
        loaded = importlib.import_module(f"{__name__}.{module.name}")
        for method in (getattr(loaded, "METHOD", None), *getattr(loaded, "METHODS", ())):
            if isinstance(method, Method):
                found[method.name] = method
    return dict(sorted(found.items()))


def get(name: str) -> Method:
    methods = available()
    aliases = {alias: method for method in methods.values() for alias in method.aliases}
    if name not in methods and name not in aliases:
        raise MethodError(f"unknown method {name!r}; known methods: {', '.join(methods)}")
    return methods.get(name) or aliases[name]


def run_options(command: str) -> list[tuple[Option, list[str]]]:
    """The options ``atdkit COMMAND`` offers for the methods, each once, with the methods that take it."""
    found: dict[str, tuple[Option, list[str]]] = {}
    for method in available().values():
        for option in method.options:
            if command in option.commands:
                found.setdefault(option.flag, (option, []))[1].append(method.name)
    return list(found.values())


def weightless() -> list[str]:
    """Names of the methods that need no weight files (what ``atdkit demo`` can always run)."""
    return [name for name, method in available().items() if not method.weights]


def weights_dir() -> Path:
    """Where weight files are looked for by their expected name: $ATDKIT_WEIGHTS or ~/.cache/atdkit/weights."""
    return Path(os.environ.get("ATDKIT_WEIGHTS") or Path.home() / ".cache" / "atdkit" / "weights")


def locate(weight: WeightFile, given: dict[str, Path]) -> Path | None:
    """The file for ``weight``: the path given with --weights, else its expected name in weights_dir()."""
    path = next((given[name] for name in weight.names if name in given), None) or weights_dir() / weight.filename
    return path if (path.is_dir() if weight.folder else path.is_file()) else None


def missing_message(who: str, weight: WeightFile, given: dict[str, Path]) -> str:
    """One line for a missing weight file: ``who`` ("method animeinterp", "metric lpips") needs it, where it was
    looked for, where to get it."""
    named = next((name for name in weight.names if name in given), None)
    if named:
        wrong = "is not a folder" if weight.folder and given[named].exists() else "does not exist"
        where = f"{given[named]} (given with --weights {named}=...) {wrong}"
    else:
        where = f"{weights_dir() / weight.filename} not found; pass --weights {weight.key}=PATH"
    return f"{who} needs {weight.filename}: {where}; get it from {weight.source}"


def resolve_weights(method: Method, given: dict[str, Path]) -> dict[str, Path]:
    """Every weight file of ``method``, found and checked; MethodError (one line) otherwise."""
    paths = {}
    for weight in method.weights:
        path = locate(weight, given)
        if path is None:
            raise MethodError(missing_message(f"method {method.name}", weight, given))
        if weight.sha256 and sha256(path) != weight.sha256:
            raise MethodError(
                f"{path}: sha256 differs from {weight.filename}'s ({weight.sha256[:12]}...): "
                "a different or damaged file"
            )
        if weight.keys or method.trainable:
            try:
                checkpoint = read_tensors(path)
            except CheckpointError as error:
                raise MethodError(str(error)) from None
            trained = training_info(checkpoint)
            if trained is not None and trained.get("weights_key") != weight.key:
                raise MethodError(f"{path}: {describe_training(trained)}, not {weight.filename}")
            absent = [key for key in weight.keys if not isinstance(checkpoint, dict) or key not in checkpoint]
            if trained is None and absent:
                raise MethodError(f"{path}: checkpoint lacks {', '.join(absent)}: not {weight.filename}")
        paths[weight.key] = path
    return paths


def weight_facts(path: Path) -> dict:
    """What run.json records of a weight file: path, sha256, and for ``atdkit train`` checkpoints their provenance;
    of a release folder, each file's sha256."""
    if path.is_dir():
        return {"path": str(path), "files": {f.name: sha256(f) for f in sorted(path.iterdir()) if f.is_file()}}
    facts = {"path": str(path), "sha256": sha256(path)}
    if path.suffix in (".pt", ".pth", ".ckpt", ".pkl", ".pytorch"):
        try:
            trained = training_info(read_tensors(path))
        except CheckpointError:
            trained = None
        if trained is not None:
            facts["trained"] = trained
    return facts


def load_trained(method: Method, path: Path, device: torch.device) -> torch.nn.Module:
    """``method``'s network with the weights of an ``atdkit train`` checkpoint, loaded strictly, in eval mode."""
    state, _ = trained_state(path, method.trainable.weights_key)
    network = method.trainable.build({})
    check_layout(state, layout_of(network), path, f"a {method.name} network")
    network.load_state_dict(state)
    return network.to(device).eval()


def weight_status(method: Method, given: dict[str, Path] | None = None) -> str:
    """One line for ``atdkit bench --list``."""
    if not method.weights:
        return "no weights needed"
    parts = []
    for weight in method.weights:
        path = locate(weight, given or {})
        parts.append(
            f"{weight.filename}: {'found at ' + str(path) if path else 'missing (get it from ' + weight.source + ')'}"
        )
    return "; ".join(parts)


def sha256(path: Path) -> str:
    """The file's SHA-256, read once per version of the file (weight files are hundreds of MB, and
    a run asks for the same file's digest for its checksum, for run.json and for the SGM cache)."""
    status = os.stat(path)
    return _file_sha256(os.path.realpath(path), status.st_size, status.st_mtime_ns)


@lru_cache(maxsize=64)
def _file_sha256(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
