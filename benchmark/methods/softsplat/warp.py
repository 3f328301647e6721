"""Backward warping: sample an image at each pixel's position plus its flow (bilinear, zeros outside)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def backwarp(image: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """``image`` (N, C, H, W) sampled at (x + flow_x, y + flow_y); ``flow`` (N, 2, H, W) in pixels.

    Pixel centres sit on the grid's corners (``align_corners=True``), as in PWC-Net and SoftSplat.
    Positions are computed in at least fp32 (half precision is 0.5 px coarse beyond 512 px), and
    the result has that dtype.
    """
    dtype = torch.promote_types(torch.promote_types(image.dtype, flow.dtype), torch.float32)
    image, flow = image.to(dtype), flow.to(dtype)
    height, width = flow.shape[-2:]
    ys = torch.arange(height, device=flow.device, dtype=dtype).view(1, height, 1)
    xs = torch.arange(width, device=flow.device, dtype=dtype).view(1, 1, width)
    grid = torch.stack(
        [
            (xs + flow[:, 0]) * (2 / max(width - 1, 1)) - 1,
            (ys + flow[:, 1]) * (2 / max(height - 1, 1)) - 1,
        ],
        dim=-1,
    )
    return F.grid_sample(image, grid, mode="bilinear", padding_mode="zeros", align_corners=True)


def backwarp_inside(image: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """:func:`backwarp`, with every pixel whose sample reaches outside the image set to zero
    (PWC-Net's warping: a sample is kept when its bilinear weights inside the image sum to > 0.999)."""
    warped = backwarp(torch.cat([image, image.new_ones(image.shape[0], 1, *image.shape[2:])], 1), flow)
    inside = (warped[:, -1:] > 0.999).to(warped.dtype)
    return warped[:, :-1] * inside
