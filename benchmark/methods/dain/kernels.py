"""DAIN's kernel estimation network (Sec. 3.3): a U-Net on both frames, and two heads giving each
frame's 4x4 interpolation kernels (16 channels, unnormalised).

The encoder: a 3x3 convolution to 16 channels, then five (3x3 convolution, ReLU, 2x2 max pool) to
32 .. 512 channels and a 3x3 convolution at 1/32 resolution; the decoder: five (2x bilinear
upsampling, plus the encoder's matching pre-pool features, 3x3 convolution, ReLU) back to 16
channels at full resolution. The original lists every layer in one ``ModuleList``
(``initScaleNets_filter``; indices are its state-dict names) and adds the skips by a stack; the
heads are ``initScaleNets_filter1`` and ``initScaleNets_filter2`` (3x3 convolution, ReLU, 3x3).
"""

from __future__ import annotations

import torch
from torch import nn

ENCODER = (16, 32, 64, 128, 256, 512)
FILTER_SIZE = 4


class KernelUNet(nn.ModuleList):
    def __init__(self, in_channels: int = 6):
        layers: list[nn.Module] = [nn.Conv2d(in_channels, 16, 3, padding=1), nn.ReLU()]
        for cin, cout in zip(ENCODER, ENCODER[1:]):
            layers += [nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
        layers += [nn.Conv2d(512, 512, 3, padding=1), nn.ReLU()]
        for cin, cout in zip(ENCODER[:0:-1], ENCODER[-2::-1]):
            layers += [
                nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
                nn.Conv2d(cin, cout, 3, padding=1),
                nn.ReLU(),
            ]
        super().__init__(layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for layer in self:
            if isinstance(layer, nn.MaxPool2d):
                skips.append(x)
            x = layer(x)
            if isinstance(layer, nn.Upsample):
                x = x + skips.pop()
        return x


def kernel_head() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(16, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, FILTER_SIZE * FILTER_SIZE, 3, padding=1)
    )
