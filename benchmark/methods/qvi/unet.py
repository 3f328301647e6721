"""QVI's flow refinement U-Net (models/UNet2.py of the release): Super SloMo's U-Net (same layers and
tensor names, :mod:`..superslomo.unet`) with two differences: each decoder stage upsamples to its
skip connection's size, so any frame size of at least 32 px works, and the last decoder stage's 32
features are returned beside the output (QVI's mask network reads them)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from atdkit.benchmark.methods.superslomo.unet import SLOPE, Down


class Up(nn.Module):
    """Bilinear upsampling to the skip connection's size and a convolution, then a convolution over [that, skip]."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.conv2 = nn.Conv2d(2 * out_channels, out_channels, 3, padding=1)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
        x = F.leaky_relu(self.conv1(x), SLOPE)
        return F.leaky_relu(self.conv2(torch.cat([x, skip], dim=1)), SLOPE)


class UNet(nn.Module):
    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 32, 7, padding=3)
        self.conv2 = nn.Conv2d(32, 32, 7, padding=3)
        self.down1 = Down(32, 64, 5)
        self.down2 = Down(64, 128, 3)
        self.down3 = Down(128, 256, 3)
        self.down4 = Down(256, 512, 3)
        self.down5 = Down(512, 512, 3)
        self.up1 = Up(512, 512)
        self.up2 = Up(512, 256)
        self.up3 = Up(256, 128)
        self.up4 = Up(128, 64)
        self.up5 = Up(64, 32)
        self.conv3 = nn.Conv2d(32, out_channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(output, the last decoder stage's features (N, 32, H, W))."""
        x = F.leaky_relu(self.conv1(x), SLOPE)
        s1 = F.leaky_relu(self.conv2(x), SLOPE)
        s2 = self.down1(s1)
        s3 = self.down2(s2)
        s4 = self.down3(s3)
        s5 = self.down4(s4)
        x = self.down5(s5)
        for up, skip in ((self.up1, s5), (self.up2, s4), (self.up3, s3), (self.up4, s2), (self.up5, s1)):
            x = up(x, skip)
        return F.leaky_relu(self.conv3(x), SLOPE), x
