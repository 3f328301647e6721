"""The AdaCoF warping operation in plain PyTorch (the release's is a CuPy CUDA kernel).

Each output pixel (i, j) is a weighted sum of F x F samples of the (padded) input frame, tap
(k, l) taken at (i + k d + alpha_kl(i, j), j + l d + beta_kl(i, j)), with per-pixel weights
W_kl(i, j) and offsets alpha (rows) and beta (columns):

    I_out(i, j) = sum_k sum_l W_kl(i, j) I_in(i + k d + alpha_kl(i, j), j + l d + beta_kl(i, j))

Sampling is the release's kernel's, which the weights were trained with: the integer part of an
offset is taken by truncation toward zero (C's ``(int)``), not by flooring, and the remaining
fraction blends that pixel with the NEXT one. A negative fractional offset therefore extrapolates
from pixels p and p + 1 (weights 1 - f > 1 and f < 0) instead of interpolating between p - 1
and p; each of the four pixel indices is clamped to the frame on its own. The gradient with
respect to the input frame, which the release never computed (it returned zeros), is the exact one.
"""

from __future__ import annotations

import math

import torch


def adacof(image: torch.Tensor, weights: torch.Tensor, alpha: torch.Tensor, beta: torch.Tensor, dilation: int):
    """``image`` (B, C, H + (F-1) d, W + (F-1) d) warped by ``weights``, ``alpha``, ``beta`` (B, F*F, H, W),
    taps in row-major order (k * F + l): (B, C, H, W). Computed in float32, all taps at once."""
    batch, channels, padded_height, padded_width = image.shape
    taps, height, width = weights.shape[1:]
    size = math.isqrt(taps)
    margin = (size - 1) * dilation
    if size * size != taps or (padded_height, padded_width) != (height + margin, width + margin):
        raise ValueError(
            f"AdaCoF needs F*F taps and an input padded by (F-1)*dilation: got {taps} taps, dilation {dilation}, "
            f"input {padded_width}x{padded_height} for output {width}x{height}"
        )
    image, weights, alpha, beta = image.float(), weights.float(), alpha.float(), beta.float()
    device = image.device
    tap = torch.arange(size, device=device, dtype=torch.float32) * dilation
    tap_row = tap.repeat_interleave(size).view(1, taps, 1, 1)  # k d of tap k * F + l
    tap_col = tap.repeat(size).view(1, taps, 1, 1)  # l d
    whole_alpha, whole_beta = alpha.detach().trunc(), beta.detach().trunc()
    frac_alpha, frac_beta = alpha - whole_alpha, beta - whole_beta
    rows = torch.arange(height, device=device, dtype=torch.float32).view(1, 1, height, 1) + tap_row + whole_alpha
    cols = torch.arange(width, device=device, dtype=torch.float32).view(1, 1, 1, width) + tap_col + whole_beta

    def clamped(position: torch.Tensor, limit: int) -> torch.Tensor:
        return position.clamp(0, limit - 1).long()

    flat = image.reshape(batch, channels, padded_height * padded_width)
    output = image.new_zeros(batch, channels, height, width)
    for row, row_weight in ((rows, 1 - frac_alpha), (rows + 1, frac_alpha)):
        row_index = clamped(row, padded_height) * padded_width
        for col, col_weight in ((cols, 1 - frac_beta), (cols + 1, frac_beta)):
            index = (row_index + clamped(col, padded_width)).reshape(batch, 1, taps * height * width)
            sampled = flat.gather(2, index.expand(batch, channels, -1)).view(batch, channels, taps, height, width)
            output = output + (sampled * (weights * row_weight * col_weight).unsqueeze(1)).sum(2)
    return output
