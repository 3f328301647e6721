"""GMFSS's feature pyramid of each frame (the quadratic model's): three stages of PReLU + stride-2 3x3
convolution, PReLU + 3x3 convolution, with 64, 128 and 192 channels at 1/2, 1/4 and 1/8 of the frame's
resolution; they are splatted beside the frames and fed to the fusion network's rows.

Module names follow the released ``feat.pkl``.
"""

from __future__ import annotations

import torch
from torch import nn

from atdkit.benchmark.layers.grid_blocks import downsample_block

WIDTHS = (64, 128, 192)


class FeatureNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.block1 = downsample_block(3, WIDTHS[0])
        self.block2 = downsample_block(WIDTHS[0], WIDTHS[1])
        self.block3 = downsample_block(WIDTHS[1], WIDTHS[2])

    def forward(self, frame: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Features of ``frame`` (B, 3, H, W, RGB in [0, 1]) at 1/2, 1/4 and 1/8."""
        half = self.block1(frame)
        quarter = self.block2(half)
        return half, quarter, self.block3(quarter)
