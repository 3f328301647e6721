"""EMA-VFI's flow estimation (the official ``Head`` of ``MultiScaleFlow``).

Two heads, coarse to fine, estimate the flows from time t to both frames (4 channels, px) and a
fusion mask (1 logit). The motion features are scaled by the time (frame0's by t, frame1's by
1 - t: how one network serves any t) and concatenated with both frames' appearance
features. A head lifts them 4x by two pixel shuffles, to 1/4 of its stage (1/16 -> 1/4,
1/8 -> 1/2), concatenates the frames (the second head also the warped frames, the current mask
logit and flows) resized there, and applies three 3x3 convolutions, each with a PReLU (the last
too); its output is resized back to full resolution, flows multiplied by the factor.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def conv(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 3, 1, 1), nn.PReLU(out_channels))


class FlowHead(nn.Module):
    def __init__(self, features: int, scale: int, channels: int, image_channels: int):
        """``features``: channels of one frame's motion + appearance; ``scale``: the stage's (16 or 8);
        ``image_channels``: what it takes at full resolution (6 for the first head, 17 after)."""
        super().__init__()
        self.scale = scale
        self.upsample = nn.Sequential(nn.PixelShuffle(2), nn.PixelShuffle(2))
        self.conv = nn.Sequential(
            conv(features * 2 // 16 + image_channels, channels), conv(channels, channels), conv(channels, 5)
        )

    def forward(
        self, features: torch.Tensor, images: torch.Tensor, flow: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Flows (B, 4, H, W) and mask logit (B, 1, H, W) at full resolution, from the stage's features
        and the full-resolution ``images`` (and current ``flow``, none for the first head)."""
        factor = self.scale // 4
        if factor != 1:
            images = F.interpolate(images, scale_factor=4.0 / self.scale, mode="bilinear", align_corners=False)
        if flow is not None:
            if factor != 1:
                flow = F.interpolate(flow, scale_factor=4.0 / self.scale, mode="bilinear", align_corners=False)
                flow = flow * 4.0 / self.scale
            images = torch.cat([images, flow], 1)
        out = self.conv(torch.cat([self.upsample(features), images], 1))
        if factor != 1:
            out = F.interpolate(out, scale_factor=factor, mode="bilinear", align_corners=False)
        return out[:, :4] * factor, out[:, 4:5]
