"""DAIN's frame synthesis network (``rectifyNet``, Sec. 3.5): a 7x7 convolution to 128 channels, three
residual blocks, a 3x3 convolution to a residual added to the blended warped frames."""

from __future__ import annotations

import torch
from torch import nn

from atdkit.benchmark.methods.dain.context import ResidualBlock


class FrameSynthesis(nn.Module):
    def __init__(self, in_channels: int, channels: int = 128):
        super().__init__()
        self.block1 = nn.Sequential(nn.Conv2d(in_channels, channels, 7, padding=3), nn.ReLU())
        self.block2 = ResidualBlock(channels)
        self.block3 = ResidualBlock(channels)
        self.block4 = ResidualBlock(channels)
        self.block5 = nn.Sequential(nn.Conv2d(channels, 3, 3, padding=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block5(self.block4(self.block3(self.block2(self.block1(x)))))
