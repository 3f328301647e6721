"""SoftSplat's importance metric from brightness constancy (section 3.3 of the paper):
Z = -alpha * |I0 - backwarp(I1, F0->1)|, the colour channels' mean absolute difference between
a frame and the other frame warped onto it, with a learnable scale alpha. Where the flow is
right the difference is small and Z high: in softmax splatting the pixel that is visible wins
over the ones it occludes."""

from __future__ import annotations

import torch
from torch import nn

from atdkit.benchmark.methods.softsplat.warp import backwarp

ALPHA = 20.0  # the starting scale (the paper's reference implementation uses -20 * mean difference)
LIMIT = 20.0  # Z is clamped to [-20, 20] as there: exp(Z) neither vanishes nor overflows


class ImportanceMetric(nn.Module):
    def __init__(self):
        super().__init__()
        self.alpha = nn.Parameter(torch.tensor(ALPHA))

    def forward(self, frame0: torch.Tensor, frame1: torch.Tensor, flow01: torch.Tensor) -> torch.Tensor:
        """Z (N, 1, H, W) for splatting ``frame0`` along ``flow01``; frames (N, 3, H, W) in [0, 1]."""
        difference = (frame0 - backwarp(frame1, flow01)).abs().mean(1, keepdim=True)
        return (-self.alpha * difference).clamp(-LIMIT, LIMIT)
