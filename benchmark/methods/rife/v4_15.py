"""RIFE 4.15's IFNet (Practical-RIFE 4.15 of 2024-03-11): RIFE 4.6's four blocks (scales 8, 4, 2, 1)
also fed learnt features of both frames.

An encoder (``Head``) gives each frame 8 feature channels at full resolution; the first block
sees both frames, both feature maps and the timestep; the others see both frames and both
feature maps backward-warped along the current flows, the timestep, the current mask and the
flows. Each block adds a residual to the flows and **replaces** the mask (4.6 added to it). The
frame is the blend of both warped frames by the sigmoid of the last mask. Heights and widths must
be multiples of 32.

Layout from 4.15's ``train_log/IFNet_HDv3.py`` (as vendored in TNTwise/ConvertRIFEtoNCNN-githubactions
at 55b9b2c, uploaded on the release day, and HolyWu/vs-rife's ``vsrife/IFNet_HDv3_v4_15.py``). 4.13, 4.14,
4.17, 4.18, 4.19 and 4.24 have the same layout and the same network (vs-rife's files for them are identical).
"""

from __future__ import annotations

import torch
from torch import nn

from atdkit.benchmark.methods.rife.blocks import Encoder, IFBlock
from atdkit.benchmark.methods.rife.frames import check_size, time_plane
from atdkit.benchmark.methods.rife.warp import warp

SCALES = (8, 4, 2, 1)
FEATURES = 8  # the encoder's channels per frame


class EncodedIFNet(nn.Module):
    title = "RIFE 4.15"
    multiple = 32

    def __init__(self):
        super().__init__()
        self.block0 = IFBlock(3 + 3 + 2 * FEATURES + 1, 192)
        self.block1 = IFBlock(3 + 3 + 2 * FEATURES + 1 + 1 + 4, 128)
        self.block2 = IFBlock(3 + 3 + 2 * FEATURES + 1 + 1 + 4, 96)
        self.block3 = IFBlock(3 + 3 + 2 * FEATURES + 1 + 1 + 4, 64)
        self.encode = Encoder(32, FEATURES)
        self.to(memory_format=torch.channels_last)

    def forward(self, frame0: torch.Tensor, frame1: torch.Tensor, timestep: float | torch.Tensor = 0.5) -> torch.Tensor:
        """The frame at ``timestep`` between ``frame0`` and ``frame1`` (B, 3, H, W, RGB in [0, 1]), unclamped."""
        return self.estimate(frame0, frame1, timestep)[0]

    def estimate(self, frame0, frame1, timestep=0.5) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """The frame and the flows (t->0, t->1; B, 4, H, W) after each block."""
        check_size(frame0, self.multiple, self.title)
        time = time_plane(frame0, timestep)
        features0, features1 = self.encode(frame0), self.encode(frame1)
        flows, warped0, warped1 = [], frame0, frame1
        for i, (block, scale) in enumerate(zip((self.block0, self.block1, self.block2, self.block3), SCALES)):
            if i == 0:
                flow, mask, _ = block(torch.cat([frame0, frame1, features0, features1, time], dim=1), None, scale)
            else:
                moved0, moved1 = warp(features0, flow[:, :2]), warp(features1, flow[:, 2:4])
                inputs = torch.cat([warped0, warped1, moved0, moved1, time, mask], dim=1)
                flow_residual, mask, _ = block(inputs, flow, scale)
                flow = flow + flow_residual
            warped0, warped1 = warp(frame0, flow[:, :2]), warp(frame1, flow[:, 2:4])
            flows.append(flow)
        mask = torch.sigmoid(mask)
        return warped0 * mask + warped1 * (1 - mask), flows
