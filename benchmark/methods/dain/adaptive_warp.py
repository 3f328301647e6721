"""DAIN's adaptive warping layer (Eq. 4; the ``FilterInterpolation`` CUDA layer in plain PyTorch).

The output at x samples the input around ``p = x + f(x)`` with the pixel's own 4x4 kernel ``k(x)``
(16 channels, row-major over the 4x4 integer pixels whose top-left is ``floor(p) - 1``, clamped to
the image) and bilinear weights: the kernel-weighted sums of the four 2x2 quadrants of that window
are blended by the fractional part of p, ``(1-a)(1-b) TL + a(1-b) TR + (1-a)b BL + ab BR``.
Where p leaves [0, W-1] x [0, H-1], or the flow reaches half the frame's width or height, the
output is the input at x unchanged (and, as in the CUDA layer, passes no gradient).

Gradients (the CUDA layer's): to the input and kernels as for any weighted sum, to the flow through
the bilinear weights only (the window's position is piecewise constant).
"""

from __future__ import annotations

import torch

SIZE = 4  # DAIN's filter_size: 4x4 kernels, 16 channels


def adaptive_warp(image: torch.Tensor, flow: torch.Tensor, kernels: torch.Tensor) -> torch.Tensor:
    """``image`` (B, C, H, W) warped by ``flow`` (B, 2, H, W, pixels) with per-pixel ``kernels`` (B, 16, H, W),
    in float32."""
    image, flow, kernels = image.float(), flow.float(), kernels.float()
    batch, channels, height, width = image.shape
    ys, xs = torch.meshgrid(
        torch.arange(height, device=flow.device), torch.arange(width, device=flow.device), indexing="ij"
    )
    x, y = xs.to(flow.dtype) + flow[:, 0], ys.to(flow.dtype) + flow[:, 1]
    valid = (
        (x >= 0) & (y >= 0) & (x <= width - 1) & (y <= height - 1)
        & (flow[:, 0].abs() < width / 2) & (flow[:, 1].abs() < height / 2)
    )  # fmt: skip
    left = torch.where(valid, x, 0).detach().floor()
    top = torch.where(valid, y, 0).detach().floor()
    alpha, beta = (x - left).unsqueeze(1), (y - top).unsqueeze(1)  # the fractional parts: the flow's gradient
    left, top = left.long(), top.long()
    flat = image.reshape(batch, channels, -1)
    output = torch.zeros_like(image)
    for row in range(SIZE):
        y_weight = 1 - beta if row < SIZE // 2 else beta
        rows = (top + row + 1 - SIZE // 2).clamp(0, height - 1)
        for column in range(SIZE):
            x_weight = 1 - alpha if column < SIZE // 2 else alpha
            columns = (left + column + 1 - SIZE // 2).clamp(0, width - 1)
            index = (rows * width + columns).view(batch, 1, -1).expand(-1, channels, -1)
            weight = kernels[:, row * SIZE + column : row * SIZE + column + 1] * (y_weight * x_weight)
            output = torch.addcmul(output, flat.gather(2, index).view_as(image), weight)
    return torch.where(valid.unsqueeze(1), output, image.detach())
