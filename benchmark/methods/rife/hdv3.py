"""RIFE HDv3 (v3.6), the HD model of the ECCV 2022 paper's repository (megvii-research/ECCV2022-RIFE,
``RIFE_trained_model_v3.6.zip``: ``train_log/IFNet_HDv3.py``, ``RIFE_HDv3.py``): a middle-frame-only IFNet.

Three blocks refine, at 1/4, 1/2 and full resolution (``RIFE_HDv3.inference``'s scale list 4, 2, 1
at scale 1.0), the flows from the middle to both frames and a fusion mask, both starting at zero.
Each block runs twice, on (warped frame 0, warped frame 1, mask) with the flows and on the frames
swapped with the mask negated and the flows swapped; the two answers, swapped back, are averaged
and added to the flows and the mask. The frame is the blend of both warped frames by the sigmoid of
the mask. There is no timestep input: the network only makes the middle frame (its
``inference_video.py`` reaches other times by recursive halving). Heights and widths must be
multiples of 16.

A block (PReLU after every convolution): two stride-2 3x3 convolutions to width c, four residual
pairs of 3x3 convolutions, and two heads of two stride-2 4x4 transposed convolutions (c/2, then 4
flow channels or 1 mask channel). The released file also holds ``block_tea`` (the distillation
teacher, a block of 14 input channels), unused here but loaded strictly by ``RIFE_HDv3.py``.

Layout from v3.6's ``train_log/IFNet_HDv3.py`` as vendored in andrewbxy/ECCV2022-RIFE and
AdamBear/arXiv2020-RIFE (``train_log/``; the zip itself is not in the repository).
"""

from __future__ import annotations

import torch
from torch import nn

from atdkit.benchmark.methods.rife.frames import check_size, resize
from atdkit.benchmark.methods.rife.warp import warp

SCALES = (4, 2, 1)
WIDTH = 90
TEACHER_INPUTS = 3 + 3 + 1 + 3 + 4  # block_tea: both warped frames, the mask, the true middle frame; the flows


def conv(in_channels: int, out_channels: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 3, stride, 1), nn.PReLU(out_channels))


def head(channels: int, outputs: int) -> nn.Sequential:
    return nn.Sequential(
        nn.ConvTranspose2d(channels, channels // 2, 4, 2, 1),
        nn.PReLU(channels // 2),
        nn.ConvTranspose2d(channels // 2, outputs, 4, 2, 1),
    )


class HDBlock(nn.Module):
    def __init__(self, in_channels: int, channels: int = WIDTH):
        super().__init__()
        self.conv0 = nn.Sequential(conv(in_channels, channels // 2, 2), conv(channels // 2, channels, 2))
        self.convblock0, self.convblock1, self.convblock2, self.convblock3 = (
            nn.Sequential(conv(channels, channels), conv(channels, channels)) for _ in range(4)
        )
        self.conv1 = head(channels, 4)
        self.conv2 = head(channels, 1)

    def forward(self, x: torch.Tensor, flow: torch.Tensor, scale: float) -> tuple[torch.Tensor, torch.Tensor]:
        """Flow residuals (4 channels, px) and mask-logit residuals at x's size."""
        features = self.conv0(torch.cat([resize(x, 1 / scale), resize(flow, 1 / scale) / scale], dim=1))
        for group in (self.convblock0, self.convblock1, self.convblock2, self.convblock3):
            features = group(features) + features
        return resize(self.conv1(features), scale) * scale, resize(self.conv2(features), scale)


def swap(flow: torch.Tensor) -> torch.Tensor:
    """Flows (t->0, t->1) as seen with the frames swapped."""
    return torch.cat([flow[:, 2:4], flow[:, :2]], dim=1)


class HDIFNet(nn.Module):
    title = "RIFE HDv3"
    multiple = 16

    def __init__(self):
        super().__init__()
        self.block0 = HDBlock(3 + 3 + 1 + 4)
        self.block1 = HDBlock(3 + 3 + 1 + 4)
        self.block2 = HDBlock(3 + 3 + 1 + 4)
        self.to(memory_format=torch.channels_last)

    def forward(self, frame0: torch.Tensor, frame1: torch.Tensor, timestep: float | torch.Tensor = 0.5) -> torch.Tensor:
        """The middle frame between ``frame0`` and ``frame1`` (B, 3, H, W, RGB in [0, 1]), unclamped;
        ``timestep`` is not an input of this network (accepted and ignored)."""
        return self.estimate(frame0, frame1)[0]

    def estimate(self, frame0, frame1, timestep=0.5) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """The middle frame and the flows (middle->0, middle->1; B, 4, H, W) after each block."""
        check_size(frame0, self.multiple, self.title)
        flow = frame0.new_zeros(frame0.shape[0], 4, *frame0.shape[2:])
        mask = frame0.new_zeros(frame0.shape[0], 1, *frame0.shape[2:])
        flows, warped0, warped1 = [], frame0, frame1
        for block, scale in zip((self.block0, self.block1, self.block2), SCALES):
            flow0, mask0 = block(torch.cat([warped0, warped1, mask], dim=1), flow, scale)
            flow1, mask1 = block(torch.cat([warped1, warped0, -mask], dim=1), swap(flow), scale)
            flow = flow + (flow0 + swap(flow1)) / 2
            mask = mask + (mask0 - mask1) / 2
            warped0, warped1 = warp(frame0, flow[:, :2]), warp(frame1, flow[:, 2:4])
            flows.append(flow)
        mask = torch.sigmoid(mask)
        return warped0 * mask + warped1 * (1 - mask), flows
