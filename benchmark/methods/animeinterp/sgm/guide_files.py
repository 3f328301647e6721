"""The official precomputed SGM flows: ``guide_flo13.npy`` (frame1 -> frame3) and ``guide_flo31.npy``
(frame3 -> frame1) in a triplet's folder, float64 arrays (2, H, W), channel 0 = x."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from atdkit.store import temporary_sibling

FORWARD, BACKWARD = "guide_flo13.npy", "guide_flo31.npy"


class GuideFlowError(ValueError):
    """A guide-flow file that cannot be used; the message is one line naming the file."""


def read_flow(path: Path, size: tuple[int, int] | None = None) -> np.ndarray:
    """One guide flow as float32 (2, H, W); ``size`` (H, W), when given, must match."""
    try:
        flow = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise GuideFlowError(f"{path}: no such file") from None
    except (OSError, ValueError, EOFError) as error:
        raise GuideFlowError(f"{path}: not a readable .npy array ({error})") from None
    if flow.ndim != 3 or flow.shape[0] != 2 or not np.issubdtype(flow.dtype, np.floating):
        raise GuideFlowError(f"{path}: expected a float array of shape (2, H, W), got {flow.dtype} {flow.shape}")
    if size is not None and flow.shape[1:] != tuple(size):
        raise GuideFlowError(f"{path}: flow is {flow.shape[2]}x{flow.shape[1]}, the frames are {size[1]}x{size[0]}")
    if not np.isfinite(flow).all():
        raise GuideFlowError(f"{path}: flow has non-finite values")
    return flow.astype(np.float32)


def read_guide_flows(folder: str | Path, size: tuple[int, int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(flow 1 -> 3, flow 3 -> 1) from a triplet folder, each float32 (2, H, W)."""
    folder = Path(folder)
    return read_flow(folder / FORWARD, size), read_flow(folder / BACKWARD, size)


def write_guide_flows(folder: str | Path, flow13: np.ndarray, flow31: np.ndarray) -> None:
    """Write both flows as the official files (float64), each through a temporary file and a rename."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, flow in ((FORWARD, flow13), (BACKWARD, flow31)):
        target = folder / name
        temporary = temporary_sibling(target)
        with open(temporary, "wb") as file:
            np.save(file, np.asarray(flow, dtype=np.float64))
        os.replace(temporary, target)
