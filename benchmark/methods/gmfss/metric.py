"""GMFSS's metric network: the importance Z of each pixel for softmax splatting, learnt (SoftSplat's
section 3.3 with a network in place of the scaled brightness difference).

Its 14 input channels: both frames (6); minus each frame's brightness-constancy error, the colour
mean of |I0 - backwarp(I1, F0->1)| (2); both flows in GMFSS's normalised units, x / ((W-1)/2) and
y / ((H-1)/2) (4); both occlusion masks of the forward-backward check (2). A 3x3 convolution to 64
channels, three residual PReLU + 3x3 convolution steps, PReLU + 3x3 convolution to 2 channels;
Z = 10 tanh(.) for frame 0 and frame 1.

Module names follow the released ``metric.pkl``.
"""

from __future__ import annotations

import torch
from torch import nn

from atdkit.benchmark.methods.gmfss.warp import backwarp

ALPHA, BETA = 0.01, 0.5  # the consistency check's thresholds (UnFlow's, as GMFlow uses them)


def occlusion(flow01: torch.Tensor, flow10: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Forward-backward consistency (UnFlow): a pixel is occluded (1.0) when its flow and the other
    direction's flow where it lands do not cancel: |F01 + F10(x + F01)| > 0.01 (|F01| + |F10|) + 0.5.
    Both masks (B, 1, H, W), frame 0's then frame 1's."""
    threshold = ALPHA * (flow01.norm(dim=1, keepdim=True) + flow10.norm(dim=1, keepdim=True)) + BETA
    occluded0 = (flow01 + backwarp(flow10, flow01)).norm(dim=1, keepdim=True) > threshold
    occluded1 = (flow10 + backwarp(flow01, flow10)).norm(dim=1, keepdim=True) > threshold
    return occluded0.to(flow01.dtype), occluded1.to(flow01.dtype)


def residual_step(channels: int) -> nn.Sequential:
    return nn.Sequential(nn.PReLU(), nn.Conv2d(channels, channels, 3, 1, 1))


class MetricNet(nn.Module):
    def __init__(self, channels: int = 64):
        super().__init__()
        self.metric_in = nn.Conv2d(14, channels, 3, 1, 1)
        self.metric_net1, self.metric_net2, self.metric_net3 = (residual_step(channels) for _ in range(3))
        self.metric_out = nn.Sequential(nn.PReLU(), nn.Conv2d(channels, 2, 3, 1, 1))

    def forward(self, frame0, frame1, flow01, flow10) -> tuple[torch.Tensor, torch.Tensor]:
        """Z of frame 0 and of frame 1 (B, 1, H, W each) from the frames (B, 3, H, W) and flows (B, 2, H, W, px)."""
        error0 = (frame0 - backwarp(frame1, flow01)).abs().mean(1, keepdim=True)
        error1 = (frame1 - backwarp(frame0, flow10)).abs().mean(1, keepdim=True)
        height, width = flow01.shape[-2:]
        unit = torch.tensor([(width - 1) / 2, (height - 1) / 2], device=flow01.device).view(1, 2, 1, 1)
        inputs = [frame0, frame1, -error0, -error1, flow01 / unit, flow10 / unit, *occlusion(flow01, flow10)]
        feature = self.metric_in(torch.cat(inputs, dim=1))
        for step in (self.metric_net1, self.metric_net2, self.metric_net3):
            feature = step(feature) + feature
        metric = 10 * torch.tanh(self.metric_out(feature))
        return metric[:, :1], metric[:, 1:]
