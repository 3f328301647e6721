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
almost nothing landed). Pure PyTorch (a sparse matrix product), on the CPU or a CUDA GPU, and
autograd gives the gradients with respect to the input, the flow and the metric.
"""

from __future__ import annotations

import warnings

import torch

MODES = ("sum", "avg", "linear", "soft")


def splat_sum(values: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Summation splatting of ``values`` (N, C, H, W) along ``flow`` (N, 2, H, W; channel 0 = x, in pixels),
    in fp32 (fp64 when either input is); channels-last in and out (any layout is accepted).

    Each target pixel sums its contributions in the same order however it runs: corner by corner,
    and for each corner in the order of the source pixels. Without gradients on the CPU the splat
    is one sparse matrix product (:func:`sparse_splat`, about 1.5x faster); otherwise ``index_add_``.
    """
    batch, channels, height, width = values.shape
    if flow.shape != (batch, 2, height, width):
        raise ValueError(f"flow must have shape {(batch, 2, height, width)}, got {tuple(flow.shape)}")
    # accumulate in at least fp32: sums of many half-precision contributions lose too much (and
    # index_add_ needs one dtype), so under fp16 autocast the splat runs in fp32
    dtype = torch.promote_types(torch.promote_types(values.dtype, flow.dtype), torch.float32)
    values, flow = values.to(dtype), flow.to(dtype)
    # targets in the frame padded by one pixel a side, where the corners that leave the frame land
    padded_height, padded_width = height + 2, width + 2
    step_x, step_y = torch.floor(flow[:, 0]), torch.floor(flow[:, 1])
    # bilinear weights from the flow's fractional part (exact, whatever the pixel's position)
    frac_x, frac_y = flow[:, 0] - step_x, flow[:, 1] - step_y
    x = torch.arange(width, device=flow.device).view(1, 1, width) + step_x.long()
    y = torch.arange(height, device=flow.device).view(1, height, 1) + step_y.long()
    lands = (x >= -1) & (x < width) & (y >= -1) & (y < height)  # some corner inside the frame
    first = (torch.arange(batch, device=flow.device) * (padded_height * padded_width)).view(batch, 1, 1)
    top_left = ((first + (y + 1) * padded_width + (x + 1)) * lands).reshape(-1)
    corners = (
        (top_left, (1 - frac_x) * (1 - frac_y)),
        (top_left + 1, frac_x * (1 - frac_y)),
        (top_left + padded_width, (1 - frac_x) * frac_y),
        (top_left + padded_width + 1, frac_x * frac_y),
    )
    corners = [(target, (weight * lands).reshape(-1)) for target, weight in corners]
    source = values.permute(0, 2, 3, 1).reshape(-1, channels)  # one row per source pixel
    rows = batch * padded_height * padded_width
    needs_grad = torch.is_grad_enabled() and (values.requires_grad or flow.requires_grad)
    if source.device.type == "cpu" and not needs_grad:
        out = sparse_splat(corners, source, rows)
    else:
        out = source.new_zeros(rows, channels)
        for target, weight in corners:
            out.index_add_(0, target, source * weight[:, None])
    return out.view(batch, padded_height, padded_width, channels)[:, 1:-1, 1:-1].permute(0, 3, 1, 2)


def sparse_splat(corners: list[tuple[torch.Tensor, torch.Tensor]], source: torch.Tensor, rows: int) -> torch.Tensor:
    """``rows`` target rows, each the sum of the ``source`` rows that land on it (``corners``: per corner,
    each source row's target and weight), as one product with a sparse (rows x sources) CSR matrix.

    A stable sort of the targets keeps each row's entries in the corners' then the sources' order, as
    ``index_add_`` would add them; the column indices are then not sorted within a row, which the
    product (unlike sparse autograd) does not need.
    """
    targets, order = torch.sort(torch.cat([target for target, _ in corners]), stable=True)
    starts = torch.zeros(rows + 1, dtype=targets.dtype, device=targets.device)
    torch.cumsum(torch.bincount(targets, minlength=rows), 0, out=starts[1:])
    weights = torch.cat([weight for _, weight in corners])[order]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyTorch's note, once per process, that sparse CSR tensors are in beta
        matrix = torch.sparse_csr_tensor(
            starts, order % len(source), weights, (rows, len(source)), check_invariants=False
        )
    with torch.autocast(source.device.type, enabled=False):  # in the sources' precision, not autocast's
        return matrix @ source


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
    weighted = input if mode == "avg" else input * weight
    # the values and their weight side by side in each pixel (channels-last): what the splat reads
    values = torch.cat([weighted.permute(0, 2, 3, 1), weight.permute(0, 2, 3, 1)], dim=-1).permute(0, 3, 1, 2)
    return normalise(splat_sum(values, flow))
