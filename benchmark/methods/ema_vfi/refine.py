"""EMA-VFI's refinement U-Net (the official ``Unet``, RIFE's ContextNet-fed U-Net).

Inputs at full resolution: both frames, both warped frames, the mask logit and the flows (17
channels) and both frames' first-stage appearance features warped to time t; each of the four
stride-2 encoder levels (two 3x3 convolutions with PReLU) takes in the next level's warped
features, and the bottleneck the 1/16 ones. Four 4x4 transposed convolutions (PReLU) decode with
skip connections; a last 3x3 convolution and a sigmoid give 3 channels, of which the model uses
``2 * out - 1`` as a residual on the blended frame.
"""

from __future__ import annotations

import torch
from torch import nn


def conv(in_channels: int, out_channels: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 3, stride, 1), nn.PReLU(out_channels))


def deconv(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(nn.ConvTranspose2d(in_channels, out_channels, 4, 2, 1), nn.PReLU(out_channels))


class Down(nn.Module):
    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv1 = conv(in_channels, out_channels, 2)
        self.conv2 = conv(out_channels, out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(self.conv1(x))


class RefineUNet(nn.Module):
    def __init__(self, c: int):
        """``c``: twice the first stage's feature channels (one warped copy per frame)."""
        super().__init__()
        self.down0 = Down(17 + c, 2 * c)
        self.down1 = Down(4 * c, 4 * c)
        self.down2 = Down(8 * c, 8 * c)
        self.down3 = Down(16 * c, 16 * c)
        self.up0 = deconv(32 * c, 8 * c)
        self.up1 = deconv(16 * c, 4 * c)
        self.up2 = deconv(8 * c, 2 * c)
        self.up3 = deconv(4 * c, c)
        self.conv = nn.Conv2d(c, 3, 3, 1, 1)

    def forward(self, images: torch.Tensor, context0: list[torch.Tensor], context1: list[torch.Tensor]) -> torch.Tensor:
        """``images``: frames, warped frames, mask logit, flows (B, 17, H, W); ``context0/1``: each frame's
        five appearance features warped to t (full resolution to 1/16). Returns (B, 3, H, W) in (0, 1)."""
        s0 = self.down0(torch.cat([images, context0[0], context1[0]], 1))
        s1 = self.down1(torch.cat([s0, context0[1], context1[1]], 1))
        s2 = self.down2(torch.cat([s1, context0[2], context1[2]], 1))
        s3 = self.down3(torch.cat([s2, context0[3], context1[3]], 1))
        x = self.up0(torch.cat([s3, context0[4], context1[4]], 1))
        x = self.up1(torch.cat([x, s2], 1))
        x = self.up2(torch.cat([x, s1], 1))
        x = self.up3(torch.cat([x, s0], 1))
        return torch.sigmoid(self.conv(x))
