"""QVI's flow reversal layer (Xu et al., NeurIPS 2019, section 3.2, eq. 4) in plain PyTorch.

Flow from frame 0 to time t, f_0->t, is known at frame 0's pixels; synthesis needs the flow from
time t back to frame 0 at the pixels of the unknown frame t. Each pixel x of frame 0 is projected
to x + f_0->t(x) and shares -f_0->t(x) among the four pixels u around that point, weighted by a
Gaussian of the distance, w = exp(-|x + f_0->t(x) - u|^2); where something landed, f_t->0(u) is
the weighted mean of what landed there, elsewhere 0 (a hole).

As the released CUDA-free ``ForwardWarp`` (models/forward_warp_gaussian.py) computes it: the four
targets are floor(p) and floor(p) + 1 per axis, contributions landing outside the frame are
dropped, and the mean is taken only where the summed weight is above 0. ``index_add_`` runs on
any device, and autograd gives the gradients with respect to the flow (through the weights) as
the release's ``put_(accumulate=True)`` does.
"""

from __future__ import annotations

import torch


def gaussian_splat(values: torch.Tensor, flow: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``values`` (N, C, H, W) forward-warped along ``flow`` (N, 2, H, W; channel 0 = x, pixels) with
    Gaussian weights: the weighted sums (N, C, H, W) and the summed weights (N, 1, H, W)."""
    batch, channels, height, width = values.shape
    step_x, step_y = torch.floor(flow[:, 0]), torch.floor(flow[:, 1])
    frac_x, frac_y = flow[:, 0] - step_x, flow[:, 1] - step_y
    columns = torch.arange(width, device=flow.device).view(1, 1, width) + step_x.long()
    rows = torch.arange(height, device=flow.device).view(1, height, 1) + step_y.long()
    first = (torch.arange(batch, device=flow.device) * (height * width)).view(batch, 1, 1)
    source = torch.cat([values, values.new_ones(batch, 1, height, width)], 1).permute(0, 2, 3, 1)
    source = source.reshape(-1, channels + 1)  # one row per source pixel: its values and a 1 for the weight
    out = values.new_zeros(batch * height * width, channels + 1)
    for dx in (0, 1):
        for dy in (0, 1):
            x, y = columns + dx, rows + dy
            weight = torch.exp(-((frac_x - dx) ** 2 + (frac_y - dy) ** 2))
            inside = (x >= 0) & (x < width) & (y >= 0) & (y < height)
            target = (first + y.clamp(0, height - 1) * width + x.clamp(0, width - 1)).reshape(-1)
            out = out.index_add(0, target, source * (weight * inside).reshape(-1, 1))
    out = out.view(batch, height, width, channels + 1).permute(0, 3, 1, 2)
    return out[:, :channels], out[:, channels:]


def reverse_flow(flow_0t: torch.Tensor) -> torch.Tensor:
    """Eq. 4: f_t->0 at the pixels of frame t (N, 2, H, W) from f_0->t at the pixels of frame 0; 0 in holes."""
    summed, weight = gaussian_splat(-flow_0t, flow_0t)
    return summed / torch.where(weight > 0, weight, torch.ones_like(weight))
