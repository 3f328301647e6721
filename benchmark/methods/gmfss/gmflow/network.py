"""GMFlow as GMFSS_Fortuna builds and calls it: ``GMFlow()`` with its defaults there (two scales, convex
upsampling by 4) and ``forward(img0, img1)`` with its default arguments (attention splits 2 and 8,
global then radius-4 local matching, global then radius-1 propagation, one direction per call).

Coarse to fine: frames normalised by ImageNet's mean and std; backbone features at 1/8 and 1/4.
At 1/8: position encoding, transformer (2x2 windows), global matching, global propagation. At 1/4:
the flow upsampled (bilinear, x2), frame 1's features warped by it, position encoding, transformer
(8x8 windows), local matching (radius 4) adding a residual, local propagation (radius 1). Finally
convex upsampling to full resolution: each full-resolution pixel is a softmax-weighted combination
of the 3x3 coarse flows around it, the weights predicted from the flow and frame 0's features.
Heights and widths must be multiples of 32 (8 windows at 1/4).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from atdkit.benchmark.methods.gmfss.gmflow.backbone import CNNEncoder
from atdkit.benchmark.methods.gmfss.gmflow.matching import FlowPropagation, global_matching, local_matching
from atdkit.benchmark.methods.gmfss.gmflow.transformer import FeatureTransformer, add_position
from atdkit.benchmark.methods.gmfss.warp import backwarp

MEAN = (0.485, 0.456, 0.406)  # ImageNet's, by which GMFlow normalises RGB in [0, 1]
STD = (0.229, 0.224, 0.225)
SPLITS = (2, 8)  # attention windows per side at 1/8 and at 1/4
UPSAMPLE = 4  # convex upsampling factor from 1/4


class GMFlow(nn.Module):
    def __init__(self, channels: int = 128):
        super().__init__()
        self.backbone = CNNEncoder(channels)
        self.transformer = FeatureTransformer(channels)
        self.feature_flow_attn = FlowPropagation(channels)
        self.upsampler = nn.Sequential(
            nn.Conv2d(2 + channels, 256, 3, 1, 1), nn.ReLU(), nn.Conv2d(256, UPSAMPLE**2 * 9, 1)
        )

    def forward(self, frame0: torch.Tensor, frame1: torch.Tensor) -> torch.Tensor:
        """Flow (B, 2, H, W) from ``frame0`` to ``frame1`` (B, 3, H, W, RGB in [0, 1]), in pixels."""
        height, width = frame0.shape[-2:]
        if height % 32 or width % 32:
            raise ValueError(f"GMFlow needs a height and width divisible by 32, got {width}x{height}")
        mean = torch.tensor(MEAN, device=frame0.device).view(1, 3, 1, 1)
        std = torch.tensor(STD, device=frame0.device).view(1, 3, 1, 1)
        batch = frame0.shape[0]
        coarse, fine = self.backbone(torch.cat([frame0, frame1]).sub(mean).div(std))

        feature0, feature1 = coarse[:batch], coarse[batch:]
        feature0, feature1 = self.attend(feature0, feature1, SPLITS[0])
        flow = global_matching(feature0, feature1)
        flow = self.feature_flow_attn(feature0, flow, radius=None)

        flow = F.interpolate(flow, scale_factor=2, mode="bilinear", align_corners=True) * 2
        feature0, feature1 = fine[:batch], backwarp(fine[batch:], flow)
        feature0, feature1 = self.attend(feature0, feature1, SPLITS[1])
        flow = flow + local_matching(feature0, feature1, radius=4)
        flow = self.feature_flow_attn(feature0, flow, radius=1)
        return self.upsample(flow, feature0)

    def attend(self, feature0: torch.Tensor, feature1: torch.Tensor, splits: int):
        """Both frames' features after the position encoding (per window) and the transformer."""
        return self.transformer(add_position(feature0, splits), add_position(feature1, splits), splits)

    def upsample(self, flow: torch.Tensor, feature: torch.Tensor) -> torch.Tensor:
        """Convex upsampling by 4: every fine pixel a softmax-weighted sum of the 3x3 coarse flows around it (x4)."""
        batch, _, height, width = flow.shape
        weights = self.upsampler(torch.cat([flow, feature], dim=1))
        weights = torch.softmax(weights.view(batch, 1, 9, UPSAMPLE, UPSAMPLE, height, width), dim=2)
        neighbours = F.unfold(UPSAMPLE * flow, 3, padding=1).view(batch, 2, 9, 1, 1, height, width)
        up = (weights * neighbours).sum(dim=2)  # (B, 2, K, K, H, W)
        return up.permute(0, 1, 4, 2, 5, 3).reshape(batch, 2, UPSAMPLE * height, UPSAMPLE * width)
