"""The U-Net both Super SloMo networks are made of (Jiang et al., CVPR 2018, figure 3).

Two 7x7 convolutions, five encoder stages (2x2 average pooling then two convolutions: 5x5 in
the first, 3x3 after), five decoder stages (2x bilinear upsampling, a convolution, then a
convolution over the skip connection concatenated to it) and a 3x3 output convolution. Every
convolution, the output one included, is followed by a leaky ReLU of slope 0.1. Module names
follow the public PyTorch port (avinashpaliwal/Super-SloMo), so its state dicts load as they are.
Height and width must be multiples of 32 (five halvings).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

SLOPE = 0.1


class Down(nn.Module):
    """2x2 average pooling, then two convolutions with leaky ReLUs."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int):
        super().__init__()
        padding = (kernel_size - 1) // 2
        self.conv1 = nn.Conv2d(in_channels, out_channels, kernel_size, padding=padding)
        self.conv2 = nn.Conv2d(out_channels, out_channels, kernel_size, padding=padding)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.avg_pool2d(x, 2)
        x = F.leaky_relu(self.conv1(x), SLOPE)
        return F.leaky_relu(self.conv2(x), SLOPE)


class Up(nn.Module):
    """Bilinear upsampling to the skip connection's size (2x when both sides are multiples of 32) and a
    convolution, then a convolution over [that, skip connection]."""

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

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The last decoder stage's 32 features (N, 32, H, W)."""
        x = F.leaky_relu(self.conv1(x), SLOPE)
        s1 = F.leaky_relu(self.conv2(x), SLOPE)
        s2 = self.down1(s1)
        s3 = self.down2(s2)
        s4 = self.down3(s3)
        s5 = self.down4(s4)
        x = self.down5(s5)
        for up, skip in ((self.up1, s5), (self.up2, s4), (self.up3, s3), (self.up4, s2), (self.up5, s1)):
            x = up(x, skip)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(self.conv3(self.features(x)), SLOPE)
