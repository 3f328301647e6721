"""The flow block of RIFE 4.x (Practical-RIFE's ``IFBlock``) and the frame encoder of 4.7 and later (``Head``).

A block works at 1/scale of the frame: it resizes its input (frames, warped frames, features, the
timestep channel, the mask, and the current flows divided by the scale), halves it twice with
stride-2 3x3 convolutions, refines it with eight residual 3x3 convolutions scaled by a learnt
per-channel ``beta``, and returns to the input resolution with a stride-2 4x4 transposed
convolution and a 2x pixel shuffle; the output is resized back to the frame and its flows
multiplied by the scale. LeakyReLU 0.2 throughout. Output channels: 4 flow (t->0, t->1), 1 mask
logit, then 1 unused channel (4.6, 4.15: 6 in all) or 8 features passed to the next block (4.22,
4.22.lite, 4.25: 13).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from atdkit.benchmark.methods.rife.frames import resize

SLOPE = 0.2


def conv(in_channels: int, out_channels: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 3, stride, 1), nn.LeakyReLU(SLOPE))


class ResConv(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, 1, 1)
        self.beta = nn.Parameter(torch.ones(1, channels, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(self.conv(x) * self.beta + x, SLOPE)


class IFBlock(nn.Module):
    def __init__(self, in_channels: int, channels: int, outputs: int = 6):
        super().__init__()
        self.conv0 = nn.Sequential(conv(in_channels, channels // 2, 2), conv(channels // 2, channels, 2))
        self.convblock = nn.Sequential(*(ResConv(channels) for _ in range(8)))
        self.lastconv = nn.Sequential(nn.ConvTranspose2d(channels, 4 * outputs, 4, 2, 1), nn.PixelShuffle(2))

    def forward(
        self, x: torch.Tensor, flow: torch.Tensor | None, scale: float
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Flows (t->0, t->1; 4 channels, px), mask logits (1 channel) and the remaining channels, at x's size."""
        x = resize(x, 1 / scale)
        if flow is not None:
            x = torch.cat([x, resize(flow, 1 / scale) / scale], dim=1)
        out = resize(self.lastconv(self.convblock(self.conv0(x))), scale)
        return out[:, :4] * scale, out[:, 4:5], out[:, 5:]


class Encoder(nn.Module):
    """Per-frame features at full resolution (Practical-RIFE's ``Head``, 4.7 and later): a stride-2 3x3
    convolution, two 3x3 convolutions (LeakyReLU 0.2 after each) and a stride-2 4x4 transposed convolution."""

    def __init__(self, width: int, channels: int):
        super().__init__()
        self.cnn0 = nn.Conv2d(3, width, 3, 2, 1)
        self.cnn1 = nn.Conv2d(width, width, 3, 1, 1)
        self.cnn2 = nn.Conv2d(width, width, 3, 1, 1)
        self.cnn3 = nn.ConvTranspose2d(width, channels, 4, 2, 1)

    def forward(self, frame: torch.Tensor) -> torch.Tensor:
        x = F.leaky_relu(self.cnn0(frame), SLOPE)
        x = F.leaky_relu(self.cnn1(x), SLOPE)
        return self.cnn3(F.leaky_relu(self.cnn2(x), SLOPE))
