"""PWC-Net (Sun et al., CVPR 2018) as DAIN's ``flownets``: NVlabs' PyTorch ``PWCDCNet`` (``md=4``).

A six-level pyramid (16 to 196 channels, 1/2 to 1/64 resolution, three 3x3 convolutions a level)
of both frames; from 1/64 up to 1/4, a decoder correlates the first frame's features with the
second's warped by the upsampled flow (81 displacements of up to 4 px), and five densely
connected convolutions (new features in front) estimate the flow; dilated convolutions refine the
last one. The network works in flow / 20, at 1/4 resolution, in input pixels.

Warping is DAIN's, as it ran on PyTorch 1.0 (``grid_sample`` sampling pixel centres on the grid's
corners, zeros outside) times a mask that zeroes every sample whose bilinear weights inside the
image sum below 0.9999. Module names are those of DAIN's ``best.pth`` under ``flownets.``
(``deconv2`` is in the file but never used).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from atdkit.benchmark.methods.softsplat.pwcnet import correlation

PYRAMID = (16, 32, 64, 96, 128, 196)  # channels of levels 1 (1/2) .. 6 (1/64)
DENSE = (128, 128, 96, 64, 32)
VOLUME = 81  # (2 * 4 + 1) ** 2 displacements
FLOW_SCALE = 20.0


def conv(in_channels: int, out_channels: int, stride: int = 1, dilation: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, stride, padding=dilation, dilation=dilation), nn.LeakyReLU(0.1)
    )


def deconv(in_channels: int) -> nn.ConvTranspose2d:
    return nn.ConvTranspose2d(in_channels, 2, 4, 2, 1)


def decoder_inputs(level: int) -> int:
    return VOLUME if level == 6 else VOLUME + PYRAMID[level - 1] + 4


def warp(features: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """``features`` sampled at x + ``flow`` (pixels of this level), zero where a sample is not fully inside."""
    batch, _, height, width = features.shape
    ys, xs = torch.meshgrid(
        torch.arange(height, device=flow.device), torch.arange(width, device=flow.device), indexing="ij"
    )
    grid = torch.stack(
        [
            2.0 * (xs.to(flow.dtype) + flow[:, 0]) / max(width - 1, 1) - 1.0,
            2.0 * (ys.to(flow.dtype) + flow[:, 1]) / max(height - 1, 1) - 1.0,
        ],
        dim=-1,
    )
    warped = F.grid_sample(features, grid, align_corners=True)
    coverage = F.grid_sample(torch.ones_like(features[:, :1]), grid, align_corners=True)
    return warped * (coverage >= 0.9999).to(warped.dtype)


class PWCDCNet(nn.Module):
    def __init__(self):
        super().__init__()
        for level, (cin, cout) in enumerate(zip((3, *PYRAMID), PYRAMID), 1):
            strided, middle = ("aa", "a") if level == 6 else ("a", "aa")  # NVlabs' names at level 6
            self.add_module(f"conv{level}{strided}", conv(cin, cout, stride=2))
            self.add_module(f"conv{level}{middle}", conv(cout, cout))
            self.add_module(f"conv{level}b", conv(cout, cout))
        for level in range(6, 1, -1):
            channels = decoder_inputs(level)
            for index, out_channels in enumerate(DENSE):
                self.add_module(f"conv{level}_{index}", conv(channels, out_channels))
                channels += out_channels
            self.add_module(f"predict_flow{level}", nn.Conv2d(channels, 2, 3, 1, 1))
            self.add_module(f"deconv{level}", deconv(2))
            if level > 2:
                self.add_module(f"upfeat{level}", deconv(channels))
        channels = decoder_inputs(2) + sum(DENSE)
        for index, (out_channels, dilation) in enumerate(((128, 1), (128, 2), (128, 4), (96, 8), (64, 16), (32, 1)), 1):
            self.add_module(f"dc_conv{index}", conv(channels, out_channels, dilation=dilation))
            channels = out_channels
        self.dc_conv7 = nn.Conv2d(32, 2, 3, 1, 1)

    def pyramid(self, image: torch.Tensor) -> list[torch.Tensor]:
        features = []
        for level in range(1, 7):
            names = ("aa", "a", "b") if level == 6 else ("a", "aa", "b")
            for name in names:
                image = getattr(self, f"conv{level}{name}")(image)
            features.append(image)
        return features

    def forward(self, first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
        """Flow first -> second / 20 at 1/4 resolution (in input pixels) of frames whose sides are multiples of 64."""
        pyramid1, pyramid2 = self.pyramid(first), self.pyramid(second)
        above = None  # the level above's flow and features, upsampled
        for level in range(6, 1, -1):
            features1, features2 = pyramid1[level - 1], pyramid2[level - 1]
            if above is None:
                x = F.leaky_relu(correlation(features1, features2), 0.1)
            else:
                up_flow, up_feat = above
                warped = warp(features2, up_flow * (FLOW_SCALE / 2**level))
                volume = F.leaky_relu(correlation(features1, warped), 0.1)
                x = torch.cat([volume, features1, up_flow, up_feat], 1)
            for index in range(len(DENSE)):
                x = torch.cat([getattr(self, f"conv{level}_{index}")(x), x], 1)
            flow = getattr(self, f"predict_flow{level}")(x)
            if level > 2:
                above = getattr(self, f"deconv{level}")(flow), getattr(self, f"upfeat{level}")(x)
        for index in range(1, 7):
            x = getattr(self, f"dc_conv{index}")(x)
        return flow + self.dc_conv7(x)
