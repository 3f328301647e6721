"""DAIN's context extractor (``ctxNet``, the S2DF "3dense" network): a 7x7 convolution and two residual
blocks with dilations 4 and 8, no biases; the output stacks the frame and the three stages' features
(3 + 3 x 64 = 195 channels)."""

from __future__ import annotations

import torch
from torch import nn


class ResidualBlock(nn.Module):
    """Two 3x3 convolutions (the first dilated), no biases, the input added before the last ReLU."""

    def __init__(self, channels: int, dilation: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=dilation, dilation=dilation, bias=False)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.conv2(torch.relu(self.conv1(x))) + x)


class ContextExtractor(nn.Module):
    def __init__(self):
        super().__init__()
        self.block1 = nn.Sequential(nn.Conv2d(3, 64, 7, padding=3, bias=False), nn.ReLU())
        self.block2 = ResidualBlock(64, dilation=4)
        self.block3 = ResidualBlock(64, dilation=8)

    def forward(self, frame: torch.Tensor) -> torch.Tensor:
        first = self.block1(frame)
        second = self.block2(first)
        return torch.cat([frame, first, second, self.block3(second)], 1)
