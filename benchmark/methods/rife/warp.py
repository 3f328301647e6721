"""Backward warping as every RIFE release does it (``model/warplayer.py``)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def warp(image: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """``image`` (B, C, H, W) sampled bilinearly at (x + u, y + v), pixel-exact, edges repeated outside;
    in float32 (half-precision coordinates would be off by up to a quarter pixel)."""
    height, width = image.shape[-2:]
    flow = flow.float()
    xs = torch.linspace(-1, 1, width, device=flow.device).view(1, 1, width)
    ys = torch.linspace(-1, 1, height, device=flow.device).view(1, height, 1)
    grid = torch.stack([xs + flow[:, 0] / ((width - 1) / 2), ys + flow[:, 1] / ((height - 1) / 2)], dim=-1)
    warped = F.grid_sample(image.float(), grid, mode="bilinear", padding_mode="border", align_corners=True)
    return warped.to(image.dtype)
