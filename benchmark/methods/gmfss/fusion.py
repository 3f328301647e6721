"""GMFSS's fusion network (``FusionNet_b.GridNet``): a GridNet (Fourure et al. 2017) reduced to the
columns GMFSS_Fortuna keeps, three rows of 64, 128 and 192 channels at 1/2, 1/4 and 1/8 of the frame.

Each row's head takes what was splatted at its resolution (row 0 also the frames: both half-resolution
frames and both splatted ones, 12 channels; then 2 x 64, 2 x 128 and 2 x 192 splatted feature channels).
Information flows down the rows in the first columns (stride-2 blocks), back up in the last ones
(stride-2 transposed 4x4 convolutions); lateral blocks add a residual. A tail doubles the resolution
(3x3 convolution, PReLU, 3x3 convolution to 4x channels, pixel shuffle, 3x3 convolution to RGB): the
frame comes out at full resolution. Every block is PReLU + convolution, twice; the residual and sum
connections are the network's: :class:`atdkit.benchmark.layers.gridnet.GridNet`, which AnimeInterp's
synthesis shares, with GMFSS's rows, upsampling blocks and tail.

Module names follow the released ``fusionnet.pkl`` (``residual_model_*``, ``downsample_model_*``,
``upsample_model_*``: row digit, then column digit).
"""

from __future__ import annotations

import torch
from torch import nn

from atdkit.benchmark.layers.gridnet import GridNet

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


class FusionNet(GridNet):
    def __init__(self):
        """Frames: both half-resolution frames and both splatted ones (12 channels); features: 2 x 64, 2 x 128
        and 2 x 192 splatted channels. Returns the frame (B, 3, 2h, 2w) from inputs at (h, w)."""
        super().__init__(ROWS, (12, 2 * 64, 2 * 128, 2 * 192), PixelShuffleTail(ROWS[0]), upsample=upsample_block)


class UnionFusionNet(GridNet):
    """The union model's (``FusionNet_u.GridNet``): the same network, its frame head taking 9 channels (frame 0
    splatted, RIFE's frame, frame 1 splatted), named ``residual_model_head0`` in the released ``fusionnet.pkl``."""

    def __init__(self):
        super().__init__(
            ROWS,
            (9, 2 * 64, 2 * 128, 2 * 192),
            PixelShuffleTail(ROWS[0]),
            upsample=upsample_block,
            head_name="residual_model_head0",
        )
