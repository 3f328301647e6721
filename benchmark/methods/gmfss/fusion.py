"""GMFSS's fusion network (``FusionNet_b.GridNet``): a GridNet (Fourure et al. 2017) reduced to the
columns GMFSS_Fortuna keeps, three rows of 64, 128 and 192 channels at 1/2, 1/4 and 1/8 of the frame.

Each row's head takes what was splatted at its resolution (row 0 also the frames: both half-resolution
frames and both splatted ones, 12 channels; then 2 x 64, 2 x 128 and 2 x 192 splatted feature channels).
Information flows down the rows in the first columns (stride-2 blocks), back up in the last ones
(stride-2 transposed 4x4 convolutions); lateral blocks add a residual. A tail doubles the resolution
(3x3 convolution, PReLU, 3x3 convolution to 4x channels, pixel shuffle, 3x3 convolution to RGB): the
frame comes out at full resolution. Every block is PReLU + convolution, twice; the residual and sum
connections are the network's (written out in :meth:`GridNet.forward` as in the released code).

Module names follow the released ``fusionnet.pkl`` (``residual_model_*``, ``downsample_model_*``,
``upsample_model_*``: row digit, then column digit).
"""

from __future__ import annotations

import torch
from torch import nn

from atdkit.benchmark.layers.grid_blocks import downsample_block, residual_block

ROWS = (64, 128, 192)


def upsample_block(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.PReLU(),
        nn.ConvTranspose2d(in_channels, out_channels, 4, 2, 1),
        nn.PReLU(),
        nn.Conv2d(out_channels, out_channels, 3, 1, 1),
    )


class PixelShuffleTail(nn.Module):
    def __init__(self, channels: int, out_channels: int = 3):
        super().__init__()
        self.conv_before_upsample = nn.Sequential(nn.Conv2d(channels, channels, 3, 1, 1), nn.PReLU())
        self.upsample = nn.Sequential(nn.Conv2d(channels, 4 * channels, 3, 1, 1), nn.PixelShuffle(2))
        self.conv_last = nn.Conv2d(channels, out_channels, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv_last(self.upsample(self.conv_before_upsample(x)))


class GridNet(nn.Module):
    def __init__(self, frame_channels: int = 12, feature_channels: tuple[int, int, int] = (128, 256, 384)):
        super().__init__()
        self.residual_model_head = residual_block(frame_channels, ROWS[0])
        for row, inputs in enumerate(feature_channels, 1):
            self.add_module(f"residual_model_head{row}", residual_block(inputs, ROWS[row - 1]))
        for row, channels in enumerate(ROWS):
            for column in (1, 4, 5):
                self.add_module(f"residual_model_{row}{column}", residual_block(channels, channels))
            if row == 0:
                self.residual_model_tail = PixelShuffleTail(channels)
        for row in (1, 2):
            for column in (0, 1):
                self.add_module(f"downsample_model_{row}{column}", downsample_block(ROWS[row - 1], ROWS[row]))
        for row in (0, 1):
            for column in (4, 5):
                self.add_module(f"upsample_model_{row}{column}", upsample_block(ROWS[row + 1], ROWS[row]))

    def forward(self, frames: torch.Tensor, features1: torch.Tensor, features2: torch.Tensor, features3: torch.Tensor):
        """The frame (B, 3, 2h, 2w) from the 12 frame channels and the splatted features at (h, w),
        (h/2, w/2) and (h/4, w/4)."""
        # column 0: the heads, and down the rows
        x00 = self.residual_model_head(frames) + self.residual_model_head1(features1)
        x10 = self.downsample_model_10(x00) + self.residual_model_head2(features2)
        x20 = self.downsample_model_20(x10) + self.residual_model_head3(features3)
        # column 1: lateral, and down the rows
        x01 = self.residual_model_01(x00) + x00
        x11 = (self.residual_model_11(x10) + x10) + self.downsample_model_11(x01)
        x21 = (self.residual_model_21(x20) + x20) + self.downsample_model_21(x11)
        # columns 4 and 5: lateral, and up the rows (row 2 runs two lateral steps first)
        x24 = self.residual_model_24(x21) + x21
        x25 = self.residual_model_25(x24) + x24
        x14 = self.upsample_model_14(x24) + (self.residual_model_14(x11) + x11)
        x04 = self.upsample_model_04(x14) + (self.residual_model_04(x01) + x01)
        x15 = self.upsample_model_15(x25) + (self.residual_model_15(x14) + x14)
        x05 = self.upsample_model_05(x15) + (self.residual_model_05(x04) + x04)
        return self.residual_model_tail(x05)
