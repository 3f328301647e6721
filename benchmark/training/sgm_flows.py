"""SGM flows of the training triplets, computed once at the training size and kept in the dataset.

``DATASET/sgm_flows/<triplet_id>/guide_flo13.npy, guide_flo31.npy``: the official files'
format (float64 (2, H, W), channel 0 = x), one folder per triplet, each file written to a
temporary name and renamed, so an interrupted computation resumes with the triplets it had
not finished. Flows of another size (an earlier ``--size``) are computed again. Training reads
only the crop's window of each file (memory-mapped).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from atdkit.store import Dataset
from benchmark.methods import Method
from benchmark.methods.animeinterp.method import VGG19
from benchmark.methods.animeinterp.sgm.guide_files import BACKWARD, FORWARD

FOLDER = "sgm_flows"


def takes_sgm_flows(method: Method) -> bool:
    """Whether ``method``'s network is fed SGM flows: it reads precomputed ones, or computes SGM itself (VGG-19)."""
    return method.flows != "none" or any(weight.key == VGG19.key for weight in method.weights)


def flows_dir(root: Path, triplet_id: str) -> Path:
    return Path(root) / FOLDER / triplet_id


def is_cached(root: Path, triplet_id: str, size: tuple[int, int]) -> bool:
    """Both flow files are there at ``size`` (W, H) (their headers are read, not their data)."""
    for name in (FORWARD, BACKWARD):
        try:
            shape = np.load(flows_dir(root, triplet_id) / name, mmap_mode="r", allow_pickle=False).shape
        except (OSError, ValueError):
            return False
        if shape != (2, size[1], size[0]):
            return False
    return True


def read_window(root: Path, triplet_id: str, size: tuple[int, int], window: tuple[slice, slice]) -> np.ndarray:
    """Flow 1->3 and flow 3->1 inside ``window`` (rows, columns): float32 (2, 2, h, w)."""
    folder = flows_dir(root, triplet_id)
    flows = []
    for name in (FORWARD, BACKWARD):
        flow = np.load(folder / name, mmap_mode="r", allow_pickle=False)
        if flow.shape != (2, size[1], size[0]):
            raise ValueError(f"{folder / name}: flow is {flow.shape[-1]}x{flow.shape[-2]}, the training frames are {size[0]}x{size[1]}")
        flows.append(np.asarray(flow[:, window[0], window[1]], dtype=np.float32))
    return np.stack(flows)


def cache_flows(root: Path, triplets: list, size: tuple[int, int], vgg_path: Path, device: torch.device, console: Console) -> int:
    """Compute and store the SGM flows of the ``triplets`` not cached at ``size``; returns how many were computed."""
    from benchmark.methods.animeinterp.sgm import VGGFeatures, compute_sgm, write_guide_flows
    from benchmark.methods.animeinterp.sgm.lines import style_for
    from benchmark.training.data import load_frames

    missing = [triplet for triplet in triplets if not is_cached(root, triplet.triplet_id, size)]
    if not missing:
        return 0
    vgg = VGGFeatures.from_file(vgg_path, device=device)
    columns = (TextColumn("SGM flows"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Dataset(root).writing(), Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("sgm", total=len(missing))
        for triplet in missing:
            frames = load_frames(triplet, size)
            flow13, flow31, _, _ = compute_sgm(frames[0], frames[2], vgg, style=style_for(triplet.triplet_id))
            write_guide_flows(flows_dir(root, triplet.triplet_id), flow13, flow31)
            progress.advance(task)
    return len(missing)
