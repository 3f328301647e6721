"""The synthesis GridNet (Fourure et al. 2017, as in SoftSplat): three rows of 32, 64 and 96
channels at full, 1/2 and 1/4 resolution, three columns of residual blocks; the first half
of the columns passes information down the rows, the second half back up.

Inputs are the warped frames and the warped features of both frames at the three scales;
output the middle frame (3 channels). Module names follow the released checkpoint
(``residual_model_<row><column>``, ``downsample_model_<row><column>``, ``upsample_model_<row><column>``).
"""

from __future__ import annotations

import torch
from torch import nn

from atdkit.benchmark.layers.grid_blocks import downsample_block, residual_block, upsample_block


class GridNet(nn.Module):
    def __init__(self, in_channels=6, in_channels1=64, in_channels2=128, in_channels3=192, out_channels=3):
        super().__init__()
        self.residual_model_head = residual_block(in_channels, 32)
        self.residual_model_head1 = residual_block(in_channels1, 32)
        self.residual_model_head2 = residual_block(in_channels2, 64)
        self.residual_model_head3 = residual_block(in_channels3, 96)
        self.residual_model_01 = residual_block(32, 32)
        self.residual_model_04 = residual_block(32, 32)
        self.residual_model_05 = residual_block(32, 32)
        self.residual_model_tail = residual_block(32, out_channels)
        self.residual_model_11 = residual_block(64, 64)
        self.residual_model_14 = residual_block(64, 64)
        self.residual_model_15 = residual_block(64, 64)
        self.residual_model_21 = residual_block(96, 96)
        self.residual_model_24 = residual_block(96, 96)
        self.residual_model_25 = residual_block(96, 96)
        self.downsample_model_10 = downsample_block(32, 64)
        self.downsample_model_20 = downsample_block(64, 96)
        self.downsample_model_11 = downsample_block(32, 64)
        self.downsample_model_21 = downsample_block(64, 96)
        self.upsample_model_04 = upsample_block(64, 32)
        self.upsample_model_14 = upsample_block(96, 64)
        self.upsample_model_05 = upsample_block(64, 32)
        self.upsample_model_15 = upsample_block(96, 64)

    def forward(self, frames, features_full, features_half, features_quarter) -> torch.Tensor:
        # column 0: the inputs enter each row
        x00 = self.residual_model_head(frames) + self.residual_model_head1(features_full)
        x10 = self.downsample_model_10(x00) + self.residual_model_head2(features_half)
        x20 = self.downsample_model_20(x10) + self.residual_model_head3(features_quarter)
        # column 1: down the rows
        x01 = self.residual_model_01(x00) + x00
        x11 = self.residual_model_11(x10) + x10 + self.downsample_model_11(x01)
        x21 = self.residual_model_21(x20) + x20 + self.downsample_model_21(x11)
        # columns 4 and 5: back up the rows
        x24 = self.residual_model_24(x21) + x21
        x25 = self.residual_model_25(x24) + x24
        x14 = self.upsample_model_14(x24) + (self.residual_model_14(x11) + x11)
        x04 = self.upsample_model_04(x14) + (self.residual_model_04(x01) + x01)
        x15 = self.upsample_model_15(x25) + (self.residual_model_15(x14) + x14)
        x05 = self.upsample_model_05(x15) + (self.residual_model_05(x04) + x04)
        return self.residual_model_tail(x05)
