"""Forward warping by splatting (Niklaus & Liu, "Softmax Splatting for Video Frame Interpolation", CVPR 2020).

Every source pixel p is moved to p + flow(p) and its value is shared among the four pixels
around that point with bilinear weights. Where several pixels land on the same target their
contributions add up, and targets nothing lands on (holes) get nothing.

Modes, as in the paper:
- ``'sum'``: summation splatting, the plain sum of the weighted contributions (no normalisation);
- ``'avg'``: the sum divided by the summed bilinear weights (an average of what landed);
- ``'linear'``: contributions also weighted by ``metric``, divided by the summed weights;
- ``'soft'``: contributions weighted by ``exp(metric)`` (softmax splatting), divided likewise.

The normalised modes divide only where the summed weight is non-zero, so holes stay exactly 0
(AnimeInterp's normalisation; the paper's CuPy code adds 1e-7 instead, which differs only where
almost nothing landed). Pure PyTorch (``index_add_``), so it runs on any device, and autograd
gives the gradients with respect to the input, the flow and the metric.
"""

from __future__ import annotations

import torch

MODES = ("sum", "avg", "linear", "soft")


def splat_sum(values: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Summation splatting of ``values`` (N, C, H, W) along ``flow`` (N, 2, H, W; channel 0 = x, in pixels),
    in fp32 (fp64 when either input is)."""
    batch, channels, height, width = values.shape
    if flow.shape != (batch, 2, height, width):
        raise ValueError(f"flow must have shape {(batch, 2, height, width)}, got {tuple(flow.shape)}")
    # accumulate in at least fp32: sums of many half-precision contributions lose too much (and
    # index_add_ needs one dtype), so under fp16 autocast the splat runs in fp32
    dtype = torch.promote_types(torch.promote_types(values.dtype, flow.dtype), torch.float32)
    values, flow = values.to(dtype), flow.to(dtype)
    step_x, step_y = torch.floor(flow[:, 0]), torch.floor(flow[:, 1])
    # bilinear weights from the flow's fractional part (exact, whatever the pixel's position)
    frac_x, frac_y = flow[:, 0] - step_x, flow[:, 1] - step_y
    columns = torch.arange(width, device=flow.device).view(1, 1, width) + step_x.long()
    rows = torch.arange(height, device=flow.device).view(1, height, 1) + step_y.long()
    first = (torch.arange(batch, device=flow.device) * (height * width)).view(batch, 1, 1)
    source = values.permute(0, 2, 3, 1).reshape(-1, channels)  # one row per source pixel
    out = values.new_zeros(batch * height * width, channels)
    for dx, dy, weight in (
        (0, 0, (1 - frac_x) * (1 - frac_y)),
        (1, 0, frac_x * (1 - frac_y)),
        (0, 1, (1 - frac_x) * frac_y),
        (1, 1, frac_x * frac_y),
    ):
        x, y = columns + dx, rows + dy
        inside = (x >= 0) & (x < width) & (y >= 0) & (y < height)
        target = (first + y.clamp(0, height - 1) * width + x.clamp(0, width - 1)).reshape(-1)
        out.index_add_(0, target, source * (weight * inside).reshape(-1, 1))
    return out.view(batch, height, width, channels).permute(0, 3, 1, 2)


def normalise(splatted: torch.Tensor) -> torch.Tensor:
    """Divide the channels but the last by the last (the summed weights) where it is non-zero (holes stay 0)."""
    weight = splatted[:, -1:]
    return splatted[:, :-1] / torch.where(weight != 0, weight, torch.ones_like(weight))


def softsplat(
    input: torch.Tensor, flow: torch.Tensor, metric: torch.Tensor | None = None, mode: str = "sum"
) -> torch.Tensor:
    """Forward-warp ``input`` (N, C, H, W) by ``flow`` (N, 2, H, W) in mode 'sum', 'avg', 'linear' or 'soft'.

    ``metric`` (N, 1, H, W) weighs the pixels in the 'linear' and 'soft' modes. In 'soft' mode
    the metric's per-sample maximum is subtracted before ``exp`` (the normalised result is the
    same, and large metrics do not overflow).
    """
    if mode not in MODES:
        raise ValueError(f"unknown splatting mode {mode!r}; expected one of {', '.join(MODES)}")
    if mode == "sum":
        return splat_sum(input, flow)
    if mode == "avg":
        weight = input.new_ones(input.shape[0], 1, *input.shape[2:])
    else:
        if metric is None or metric.shape != (input.shape[0], 1, *input.shape[2:]):
            raise ValueError(f"mode {mode!r} needs a metric of shape {(input.shape[0], 1, *input.shape[2:])}")
        if mode == "linear":
            weight = metric
        else:
            weight = torch.exp(metric - metric.amax(dim=(1, 2, 3), keepdim=True))
    return normalise(splat_sum(torch.cat([input * weight, weight], 1), flow))
