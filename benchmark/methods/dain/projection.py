"""Depth-aware flow projection (DAIN's Eq. 1; the ``DepthFlowProjection`` CUDA layer in plain PyTorch).

Each pixel y of frame 0 carries the flow ``t * F_0->1(y)`` to ``x = y + t * F_0->1(y)``; the flow at
time t back to frame 0 at the four integer pixels around x is the inverse-depth weighted mean of the
reversed flows landing there: ``F_t->0(x) = -sum_y w(y) t F_0->1(y) / sum_y w(y)``, ``w = 1 / depth``.
As the kernel does: a landing point counts only inside [0, W-1] x [0, H-1]; its right or bottom
neighbour is clamped to the image, so a point on the last column or row counts twice there; pixels
no flow reaches keep 0 and, at test time (``fill_holes``), take the mean of the nearest reached
pixels to their left, right, top and bottom (the first non-empty one along each line).

The backward pass is the CUDA layer's, which autograd would not give: the gradient to the flow is
``-w / sum w`` and to the weight ``-(f - F_t->0) / sum w`` at each of the four pixels (the exact
gradient has ``+ F_t->0``: the released network was trained with this one).
"""

from __future__ import annotations

import torch


def landing_corners(flow: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Where each pixel's flow lands: (inside mask (B, H*W), flat indices of its four corners (B, H*W) each)."""
    batch, _, height, width = flow.shape
    ys, xs = torch.meshgrid(
        torch.arange(height, device=flow.device), torch.arange(width, device=flow.device), indexing="ij"
    )
    x = xs.to(flow.dtype) + flow[:, 0]
    y = ys.to(flow.dtype) + flow[:, 1]
    inside = (x >= 0) & (y >= 0) & (x <= width - 1) & (y <= height - 1)
    left = torch.where(inside, x, 0).long()  # the kernel's (int) cast: a floor for x >= 0
    top = torch.where(inside, y, 0).long()
    right, bottom = (left + 1).clamp(max=width - 1), (top + 1).clamp(max=height - 1)
    corners = [(row * width + column).view(batch, -1) for row in (top, bottom) for column in (left, right)]
    return inside.view(batch, -1), corners


def splat(values: torch.Tensor, inside: torch.Tensor, corners: list[torch.Tensor]) -> torch.Tensor:
    """Sum ``values`` (B, C, H*W) of the pixels landing inside onto their four corners: (B, C, H*W)."""
    values = values * inside.unsqueeze(1)
    total = torch.zeros_like(values)
    for corner in corners:
        total.scatter_add_(2, corner.unsqueeze(1).expand_as(values), values)
    return total


def nearest_filled(filled: torch.Tensor, dim: int, reverse: bool) -> torch.Tensor:
    """For each position, the index along ``dim`` (-1 or -2) of the nearest filled one before it (after it
    when ``reverse``), and whether there is one."""
    length = filled.shape[dim]
    index = torch.arange(length, device=filled.device).view(-1, *([1] * (-dim - 1)))
    if reverse:
        found = torch.where(filled, length - 1 - index, -1).flip(dim).cummax(dim).values.flip(dim)
        return (length - 1 - found).clamp(max=length - 1), found >= 0
    found = torch.where(filled, index, -1).cummax(dim).values
    return found.clamp(min=0), found >= 0


def fill_holes(projected: torch.Tensor, filled: torch.Tensor) -> torch.Tensor:
    """The kernel's hole filling: each empty pixel gets the mean of the nearest filled pixel to its left,
    right, top and bottom (those that exist); it stays 0 when its row and column are empty."""
    total = torch.zeros_like(projected)
    found = torch.zeros_like(filled, dtype=projected.dtype)
    for dim in (-1, -2):
        for reverse in (False, True):
            index, exists = nearest_filled(filled, dim, reverse)
            neighbour = projected.gather(dim, index.expand_as(projected))
            total += neighbour * exists
            found += exists.to(projected.dtype)
    mean = total / found.clamp(min=1)
    return torch.where(filled, projected, mean)


class DepthFlowProjection(torch.autograd.Function):
    @staticmethod
    def forward(ctx, flow: torch.Tensor, weight: torch.Tensor, holes: bool) -> torch.Tensor:
        batch, _, height, width = flow.shape
        inside, corners = landing_corners(flow)
        weight_flat = weight.reshape(batch, 1, -1)
        count = splat(weight_flat, inside, corners)
        total = splat(-weight_flat * flow.reshape(batch, 2, -1), inside, corners)
        projected = torch.where(count > 0, total / torch.where(count > 0, count, 1), total)
        projected = projected.view(batch, 2, height, width)
        if holes:
            projected = fill_holes(projected, (count > 0).view(batch, 1, height, width))
        ctx.save_for_backward(flow, weight, count, projected)
        return projected

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        flow, weight, count, projected = ctx.saved_tensors
        batch = flow.shape[0]
        inside, corners = landing_corners(flow)
        flow_flat, weight_flat = flow.reshape(batch, 2, -1), weight.reshape(batch, 1, -1)
        grad, projected = grad.reshape(batch, 2, -1), projected.reshape(batch, 2, -1)
        grad_flow = torch.zeros_like(flow_flat)
        grad_weight = torch.zeros_like(weight_flat)
        inside = inside.unsqueeze(1)
        for corner in corners:
            at = corner.unsqueeze(1)
            reached = count.gather(2, at)  # > 0 wherever a flow lands inside
            share = torch.where(inside, grad.gather(2, at.expand(-1, 2, -1)) / reached.clamp(min=1e-30), 0)
            grad_flow -= share * weight_flat
            grad_weight -= (share * (flow_flat - projected.gather(2, at.expand(-1, 2, -1)))).sum(1, keepdim=True)
        return grad_flow.view_as(flow), grad_weight.view_as(weight), None


def project_flow(flow: torch.Tensor, inverse_depth: torch.Tensor, fill: bool) -> torch.Tensor:
    """Flow at time t back to the frame (B, 2, H, W) from ``flow`` = t x the flow to the other frame (B, 2, H, W,
    pixels) and ``inverse_depth`` (B, 1, H, W) > 0; holes filled when ``fill`` (as DAIN does when the flow
    needs no gradient), in float32 (half-precision positions are a quarter pixel coarse beyond 512 px)."""
    return DepthFlowProjection.apply(flow.float().contiguous(), inverse_depth.float().contiguous(), fill)
