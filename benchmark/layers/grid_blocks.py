"""The blocks of a synthesis GridNet (Fourure et al. 2017, as SoftSplat and AnimeInterp use it):
a lateral block keeps the resolution, a downsampling block halves it, an upsampling block
doubles it. Each is two PReLU + 3x3 convolution pairs (pre-activation); the residual
connections are the GridNet's."""

from __future__ import annotations

from torch import nn


def residual_block(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.PReLU(),
        nn.Conv2d(in_channels, out_channels, 3, padding=1),
        nn.PReLU(),
        nn.Conv2d(out_channels, out_channels, 3, padding=1),
    )


def downsample_block(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.PReLU(),
        nn.Conv2d(in_channels, out_channels, 3, stride=2, padding=1),
        nn.PReLU(),
        nn.Conv2d(out_channels, out_channels, 3, padding=1),
    )


def upsample_block(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
        nn.PReLU(),
        nn.Conv2d(in_channels, out_channels, 3, padding=1),
        nn.PReLU(),
        nn.Conv2d(out_channels, out_channels, 3, padding=1),
    )
