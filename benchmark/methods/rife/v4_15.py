"""The IFNet of RIFE 4.15 and later (Practical-RIFE 4.15, 4.22, 4.22.lite, 4.25): RIFE 4.6's blocks also fed
learnt features of both frames.

An encoder (``Head``) gives each frame feature channels at full resolution; the first block sees both
frames, both feature maps and the timestep; the others see both frames and both feature maps
backward-warped along the current flows, the timestep, the current mask, and from 4.21 on the 8
feature channels the previous block hands on; then the flows. Each block adds a residual to the flows
and **replaces** the mask (4.6 added to it). The frame is the blend of both warped frames by the
sigmoid of the last mask. Releases differ in the encoder's width and channels, the blocks' widths,
what they hand on and the scales (``RIFE_HDv3.inference``'s scale list at scale 1.0):

- 4.15 (2024-03-11): encoder 32 wide, 8 channels; blocks 192, 128, 96, 64 (each outputs one channel
  nobody reads); scales 8, 4, 2, 1.
- 4.22 (2024-08-08): encoder 32 wide, 8 channels; blocks 256, 192, 96, 48; scales 8, 4, 2, 1.
- 4.22.lite (August 2024): encoder 16 wide, 4 channels; blocks 192, 128, 64, 32; scales 8, 4, 2, 1.
- 4.25 (2024-09-19): encoder 16 wide, 4 channels; five blocks 192, 128, 96, 64, 32; scales 16, 8, 4, 2, 1.

Layouts from their ``train_log/IFNet_HDv3.py`` (as vendored in TNTwise/ConvertRIFEtoNCNN-githubactions at
55b9b2c, 738761c, 53f4e77 and 2e545e7, and HolyWu/vs-rife's ``vsrife/IFNet_HDv3_v4_15.py``, ``_v4_22.py``,
``_v4_22_lite.py``, ``_v4_25.py``). 4.13, 4.14, 4.17, 4.18, 4.19 and 4.24 have 4.15's layout and network,
4.21 and 4.23 4.22's, 4.26 4.25's (identical vs-rife files).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from atdkit.benchmark.methods.rife.blocks import Encoder, IFBlock
from atdkit.benchmark.methods.rife.frames import check_size, time_plane
from atdkit.benchmark.methods.rife.warp import warp


@dataclass(frozen=True)
class Config:
    title: str
    encoder_width: int
    features: int  # the encoder's channels per frame
    widths: tuple[int, ...]  # one per block
    scales: tuple[int, ...]
    handed_on: int = 8  # feature channels a block hands to the next (4.15: none)


RIFE_4_15 = Config("RIFE 4.15", 32, 8, (192, 128, 96, 64), (8, 4, 2, 1), handed_on=0)
RIFE_4_22 = Config("RIFE 4.22", 32, 8, (256, 192, 96, 48), (8, 4, 2, 1))
RIFE_4_22_LITE = Config("RIFE 4.22.lite", 16, 4, (192, 128, 64, 32), (8, 4, 2, 1))
RIFE_4_25 = Config("RIFE 4.25", 16, 4, (192, 128, 96, 64, 32), (16, 8, 4, 2, 1))


class FeatureIFNet(nn.Module):
    def __init__(self, config: Config):
        super().__init__()
        self.title, self.scales = config.title, config.scales
        self.multiple = 4 * max(config.scales)  # the coarsest block halves its input twice
        self.handed_on = config.handed_on
        first = 3 + 3 + 2 * config.features + 1
        later = first + 1 + config.handed_on + 4
        outputs = 5 + max(config.handed_on, 1)  # 4.15's blocks output a sixth channel nobody reads
        for i, width in enumerate(config.widths):
            self.add_module(f"block{i}", IFBlock(first if i == 0 else later, width, outputs))
        self.encode = Encoder(config.encoder_width, config.features)
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
        for i, scale in enumerate(self.scales):
            block = getattr(self, f"block{i}")
            if i == 0:
                flow, mask, carried = block(torch.cat([frame0, frame1, features0, features1, time], dim=1), None, scale)
                carried = carried[:, : self.handed_on]
            else:
                moved0, moved1 = warp(features0, flow[:, :2]), warp(features1, flow[:, 2:4])
                inputs = torch.cat([warped0, warped1, moved0, moved1, time, mask, carried], dim=1)
                flow_residual, mask, carried = block(inputs, flow, scale)
                flow, carried = flow + flow_residual, carried[:, : self.handed_on]
            warped0, warped1 = warp(frame0, flow[:, :2]), warp(frame1, flow[:, 2:4])
            flows.append(flow)
        mask = torch.sigmoid(mask)
        return warped0 * mask + warped1 * (1 - mask), flows
