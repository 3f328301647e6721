"""Backward warping as EMA-VFI's ``warplayer.warp``: bilinear, pixel centres on the grid's corners
(``align_corners=True``), edges repeated outside (``padding_mode="border"``)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def warp(image: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """``image`` (B, C, H, W) sampled at (x + u, y + v) for ``flow`` (B, 2, H, W) in pixels; in float32
    (half-precision positions would be a quarter pixel off at 1000 px), returned in ``image``'s dtype."""
    height, width = flow.shape[-2:]
    flow = flow.float()
    xs = torch.linspace(-1.0, 1.0, width, device=flow.device).view(1, 1, width)
    ys = torch.linspace(-1.0, 1.0, height, device=flow.device).view(1, height, 1)
    grid = torch.stack(
        [xs + flow[:, 0] / ((image.shape[3] - 1.0) / 2.0), ys + flow[:, 1] / ((image.shape[2] - 1.0) / 2.0)], dim=-1
    )
    warped = F.grid_sample(image.float(), grid, mode="bilinear", padding_mode="border", align_corners=True)
    return warped.to(image.dtype)
