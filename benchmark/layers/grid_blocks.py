"""The blocks of a synthesis GridNet (Fourure et al. 2017, as SoftSplat and AnimeInterp use it):
a lateral block keeps the resolution, a downsampling block halves it, an upsampling block
doubles it. Each is two PReLU + 3x3 convolution pairs (pre-activation); the residual
connections are the GridNet's."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class PReLU(nn.PReLU):
    """``nn.PReLU`` (one slope) that, with ``inplace`` and outside autograd, overwrites its input: for
    inputs nothing else reads (a convolution's or an upsampling's output). On the CPU a new large
    feature map costs more in fresh pages than the arithmetic; the values are the same."""

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.inplace and not torch.is_grad_enabled():
            return F.leaky_relu_(x, self.weight.item())  # x if x > 0 else slope * x, as prelu
        return super().forward(x)


def residual_block(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(
        PReLU(),
        nn.Conv2d(in_channels, out_channels, 3, padding=1),
        PReLU(inplace=True),
        nn.Conv2d(out_channels, out_channels, 3, padding=1),
    )


def downsample_block(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(
        PReLU(),
        nn.Conv2d(in_channels, out_channels, 3, stride=2, padding=1),
        PReLU(inplace=True),
        nn.Conv2d(out_channels, out_channels, 3, padding=1),
    )


def upsample_block(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
        PReLU(inplace=True),
        nn.Conv2d(in_channels, out_channels, 3, padding=1),
        PReLU(inplace=True),
        nn.Conv2d(out_channels, out_channels, 3, padding=1),
    )
