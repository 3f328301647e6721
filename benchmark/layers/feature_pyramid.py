"""The feature pyramid that SoftSplat (Niklaus & Liu 2020) splats beside the frames, and AnimeInterp's
synthesis stage (section 4.3) after it: six 3x3 convolutions with PReLU, features at full, 1/2
and 1/4 resolution (32, 64, 96 channels)."""

from __future__ import annotations

import torch
from torch import nn

from atdkit.benchmark.layers.grid_blocks import PReLU


class FeatureExtractor(nn.Module):
    def __init__(self):
        super().__init__()
        # each PReLU may overwrite the output of the convolution before it (outside autograd)
        self.conv1 = nn.Conv2d(3, 32, 3, padding=1)
        self.prelu1 = PReLU(inplace=True)
        self.conv2 = nn.Conv2d(32, 32, 3, padding=1)
        self.prelu2 = PReLU(inplace=True)
        self.conv3 = nn.Conv2d(32, 64, 3, stride=2, padding=1)
        self.prelu3 = PReLU(inplace=True)
        self.conv4 = nn.Conv2d(64, 64, 3, padding=1)
        self.prelu4 = PReLU(inplace=True)
        self.conv5 = nn.Conv2d(64, 96, 3, stride=2, padding=1)
        self.prelu5 = PReLU(inplace=True)
        self.conv6 = nn.Conv2d(96, 96, 3, padding=1)
        self.prelu6 = PReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        full = self.prelu2(self.conv2(self.prelu1(self.conv1(x))))
        half = self.prelu4(self.conv4(self.prelu3(self.conv3(full))))
        quarter = self.prelu6(self.conv6(self.prelu5(self.conv5(half))))
        return full, half, quarter
