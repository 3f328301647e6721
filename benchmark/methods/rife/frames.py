"""Helpers every RIFE network shares: resizing inside the blocks, the timestep channel, the size check."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def resize(x: torch.Tensor, factor: float) -> torch.Tensor:
    """Bilinear resizing by ``factor`` (``align_corners=False``), as the blocks resize their inputs and outputs."""
    return x if factor == 1 else F.interpolate(x, scale_factor=factor, mode="bilinear", align_corners=False)


def time_plane(frame: torch.Tensor, timestep: float | torch.Tensor) -> torch.Tensor:
    """The timestep as a constant channel (B, 1, H, W): one value for all, or one per batch item ((B,) tensor)."""
    plane = torch.ones_like(frame[:, :1])
    if torch.is_tensor(timestep):
        return plane * timestep.to(frame).reshape(-1, 1, 1, 1)
    return plane * timestep


def check_size(frame: torch.Tensor, multiple: int, title: str) -> None:
    height, width = frame.shape[-2:]
    if height % multiple or width % multiple:
        raise ValueError(
            f"{title} needs a height and width divisible by {multiple}, got {width}x{height}: pad the frames"
        )
