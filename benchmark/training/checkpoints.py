"""``RUN_DIR/last.pt`` and ``RUN_DIR/best.pt``: the checkpoints of an ``atdkit train`` run.

Both are plain tensor checkpoints that ``torch.load(weights_only=True)`` reads:
``{"atdkit_training": provenance, "model_state_dict": network weights}``; the provenance
names the method, the weight file the checkpoint stands in for (``weights_key``), steps and
epochs done, the data (path, fingerprint, triplet counts), the validation PSNR and the
settings. ``last.pt`` (written every ``--save-every`` steps and at each epoch's end) also holds
the optimizer, learning-rate schedule, gradient-scaler and random-number states and the
history, from which ``--resume`` continues exactly; ``best.pt`` is written at each new best
validation PSNR. Each is written to a temporary file and renamed into place.
"""

from __future__ import annotations

from pathlib import Path

import torch

from atdkit.benchmark.checkpoint import TRAINING, CheckpointError, describe_training, read_tensors, training_info
from atdkit.benchmark.training.settings import OPTIONS, TrainError
from atdkit.store import atomic_path

LAST, BEST = "last.pt", "best.pt"
MODEL = "model_state_dict"
RESUME_KEYS = ("optimizer_state_dict", "scheduler_state_dict", "scaler_state_dict", "rng_state", "history")


def save(path: Path, provenance: dict, network: torch.nn.Module, resume_state: dict | None = None) -> None:
    """Write a checkpoint atomically: provenance, the network's weights (on the CPU) and, for
    last.pt, what --resume needs."""
    weights = {name: tensor.detach().cpu() for name, tensor in network.state_dict().items()}
    with atomic_path(path) as tmp:
        torch.save({TRAINING: provenance, MODEL: weights, **(resume_state or {})}, tmp)


def rng_state() -> dict:
    return {"torch": torch.get_rng_state(), "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def read_last(run_dir: Path, method: str, settings: dict, fingerprint: str) -> dict:
    """``RUN_DIR/last.pt`` when it continues a run of ``method`` on the same data with the same
    ``settings``; TrainError otherwise."""
    path = run_dir / LAST
    if not path.is_file():
        raise TrainError(f"{path}: no such file: nothing to resume (leave out --resume to start a run in {run_dir})")
    try:
        checkpoint = read_tensors(path)
    except CheckpointError as error:
        raise TrainError(str(error)) from None
    info = training_info(checkpoint)
    if info is None or any(key not in checkpoint for key in (MODEL, *RESUME_KEYS)):
        raise TrainError(f"{path}: not a resumable checkpoint of atdkit train")
    if info.get("method") != method:
        raise TrainError(f"{path}: {describe_training(info)}; it cannot continue as a run of method {method!r}")
    recorded = info.get("settings", {})
    for key, value in settings.items():
        if recorded.get(key) != value:
            raise TrainError(
                f"{path}: the run was trained with {key} = {recorded.get(key)!r}, this command asks {value!r} "
                f"({OPTIONS[key]}); resume with the settings it started with"
            )
    if info.get("dataset_fingerprint") != fingerprint:
        raise TrainError(
            f"{path}: the run was trained on other data (triplets or frame files of {info.get('dataset')} "
            "have changed since); start a new run in another RUN_DIR"
        )
    return checkpoint
