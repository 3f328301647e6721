"""The two warps of GMFSS: backward warping (sampling along a flow, bilinear, zeros outside, in GMFlow's
arithmetic) and softmax splatting as GMFSS_Fortuna calls it (``softsplat(x, flow, Z, strMode='soft')``).

Softmax splatting (Niklaus & Liu, CVPR 2020, eq. 4): sum_p exp(Z_p) x_p / (sum_p exp(Z_p) + 1e-7) over
the source pixels p landing near a target (bilinear shares), with atdkit's summation splatting
(:func:`atdkit.benchmark.ops.splatting.splat_sum`). The 1e-7 of the official CuPy kernel's default mode
is kept, and exp(Z) is taken as it is: GMFSS's Z is bounded (|Z| <= 10, a tanh scaled by 10), so it
neither overflows nor needs :func:`~atdkit.benchmark.ops.splatting.softsplat`'s max subtraction, which
would change how much the 1e-7 weighs where little lands.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from atdkit.benchmark.ops.splatting import splat_sum

EPSILON = 1e-7


def backwarp(image: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """``image`` (N, C, H, W) sampled bilinearly at (x + u, y + v), zeros outside; ``flow`` (N, 2, H, W) in px.

    Positions are normalised as GMFlow's ``flow_warp`` does, 2 (x + u) / (W - 1) - 1: GMFlow warps features
    it then matches with a sharp softmax, which magnifies any other rounding. They are computed in at least
    float32 (half precision is a quarter pixel coarse beyond 512 px)."""
    height, width = flow.shape[-2:]
    flow = flow.to(torch.promote_types(flow.dtype, torch.float32))
    ys, xs = torch.meshgrid(
        torch.arange(height, device=flow.device, dtype=flow.dtype),
        torch.arange(width, device=flow.device, dtype=flow.dtype),
        indexing="ij",
    )
    x, y = xs + flow[:, 0], ys + flow[:, 1]
    grid = torch.stack([2 * x / (width - 1) - 1, 2 * y / (height - 1) - 1], dim=-1)
    return F.grid_sample(image, grid, mode="bilinear", padding_mode="zeros", align_corners=True)


def softmax_splat(values: torch.Tensor, flow: torch.Tensor, metric: torch.Tensor) -> torch.Tensor:
    """``values`` (N, C, H, W) forward-warped along ``flow`` (N, 2, H, W, px), weighted by exp(``metric``)
    (N, 1, H, W); holes are 0. In at least float32 (exp(10) times a feature overflows half precision)."""
    weight = metric.to(torch.promote_types(metric.dtype, torch.float32)).exp()
    splatted = splat_sum(torch.cat([values * weight, weight], dim=1), flow)
    return splatted[:, :-1] / (splatted[:, -1:] + EPSILON)
