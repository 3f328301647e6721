"""RIFE 4.6's IFNet (Practical-RIFE v4.6 of 2022-09-26; Huang et al., "Real-Time Intermediate Flow
Estimation for Video Frame Interpolation", ECCV 2022): the flow network is the whole interpolator.

Four IFBlocks refine, coarse to fine, the flows from time t to both frames and a fusion mask, at
1/8, 1/4, 1/2 and full resolution (``RIFE_HDv3.inference``'s scale list 8, 4, 2, 1 at its default
scale 1.0). The first block sees both frames and the timestep (a constant channel); the others
see both frames backward-warped along the current flows, the timestep, the current mask and the
current flows, and add residuals to the flows and to the mask. The frame is the blend of both
warped frames by the sigmoid of the final mask. Heights and widths must be multiples of 32.

Layout from v4.6's ``train_log/IFNet_HDv3.py`` (as vendored in TNTwise/ConvertRife2NCNN-pnnx-ubuntu-latest
at 64eaf4f and in HolyWu/vs-rife at 43a6b02, ``vsrife/IFNet_HDv3_v4_6.py``).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from atdkit.benchmark.methods.rife.blocks import IFBlock
from atdkit.benchmark.methods.rife.frames import check_size, time_plane
from atdkit.benchmark.methods.rife.warp import warp

SCALES = (8, 4, 2, 1)


class IFNet(nn.Module):
    title = "RIFE 4.6"
    multiple = 32

    def __init__(self):
        super().__init__()
        self.block0 = IFBlock(3 + 3 + 1, 192)
        self.block1 = IFBlock(3 + 3 + 1 + 1 + 4, 128)
        self.block2 = IFBlock(3 + 3 + 1 + 1 + 4, 96)
        self.block3 = IFBlock(3 + 3 + 1 + 1 + 4, 64)
        self.to(memory_format=torch.channels_last)  # faster convolutions on CPU (oneDNN) and tensor cores

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: str | torch.device = "cpu") -> IFNet:
        """The network with the weights of a RIFE 4.6 ``flownet.pkl`` (keys with or without ``module.``),
        loaded strictly, in eval mode on ``device``; CheckpointError (one line naming the file) otherwise."""
        from atdkit.benchmark.methods.rife.releases import RELEASES

        return RELEASES["rife-4.6"].load(path, device)

    def forward(self, frame0: torch.Tensor, frame1: torch.Tensor, timestep: float | torch.Tensor = 0.5) -> torch.Tensor:
        """The frame at ``timestep`` (a float or one per batch item) between ``frame0`` and ``frame1``
        (B, 3, H, W, RGB in [0, 1]; H and W multiples of 32), unclamped."""
        return self.estimate(frame0, frame1, timestep)[0]

    def estimate(self, frame0, frame1, timestep=0.5) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """The frame and the flows (t->0, t->1; B, 4, H, W) after each block."""
        check_size(frame0, self.multiple, self.title)
        time = time_plane(frame0, timestep)
        flows, warped0, warped1 = [], frame0, frame1
        for i, (block, scale) in enumerate(zip((self.block0, self.block1, self.block2, self.block3), SCALES)):
            if i == 0:
                flow, mask, _ = block(torch.cat([frame0, frame1, time], dim=1), None, scale)
            else:
                flow_residual, mask_residual, _ = block(torch.cat([warped0, warped1, time, mask], dim=1), flow, scale)
                flow, mask = flow + flow_residual, mask + mask_residual
            warped0, warped1 = warp(frame0, flow[:, :2]), warp(frame1, flow[:, 2:4])
            flows.append(flow)
        mask = torch.sigmoid(mask)
        return warped0 * mask + warped1 * (1 - mask), flows
