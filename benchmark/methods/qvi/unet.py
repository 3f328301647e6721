"""QVI's flow refinement U-Net (models/UNet2.py of the release): Super SloMo's U-Net (same layers and
tensor names, :mod:`..superslomo.unet`, whose decoder upsamples to each skip connection's size, so any
frame size of at least 32 px works), returning the last decoder stage's 32 features beside the output
(QVI's mask network reads them)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from atdkit.benchmark.methods.superslomo import unet


class UNet(unet.UNet):
    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(output, the last decoder stage's features (N, 32, H, W))."""
        features = self.features(x)
        return F.leaky_relu(self.conv3(features), unet.SLOPE), features
