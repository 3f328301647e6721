"""AdaCoF's kernel estimation: a U-Net over both frames and seven heads for the two warps.

The encoder (five blocks of three 3x3 convolutions, each followed by 2x2 average pooling) and the
decoder (four blocks, each followed by a bilinear x2 upsampling and a convolution, and added to
the encoder's features of the same size) end at half resolution with 64 channels; each head
brings them to full resolution: per frame, the F*F kernel weights (softmax over the taps), the
row offsets alpha and the column offsets beta, and one occlusion map (sigmoid) for the blend.

Module names (``moduleConv1``, ..., ``moduleOcclusion``) and layer positions inside each
``nn.Sequential`` are those of the release's ``models/adacofnet.py``, so its checkpoint loads
strictly.
"""

from __future__ import annotations

import torch
from torch import nn


def conv(in_channels: int, out_channels: int) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=1, padding=1)


def upsample() -> nn.Upsample:
    return nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True)


def basic(in_channels: int, out_channels: int) -> nn.Sequential:
    """Three convolutions with ReLUs (the release's ``Basic``)."""
    return nn.Sequential(
        conv(in_channels, out_channels),
        nn.ReLU(),
        conv(out_channels, out_channels),
        nn.ReLU(),
        conv(out_channels, out_channels),
        nn.ReLU(),
    )


def up(channels: int) -> nn.Sequential:
    """x2 upsampling then a convolution (the release's ``Upsample``)."""
    return nn.Sequential(upsample(), conv(channels, channels), nn.ReLU())


def head(out_channels: int, middle: int, last: nn.Module | None = None) -> nn.Sequential:
    """Three convolutions at half resolution, x2 upsampling, a last convolution (``Subnet_*``)."""
    layers = [conv(64, 64), nn.ReLU(), conv(64, 64), nn.ReLU(), conv(64, middle), nn.ReLU()]
    layers += [upsample(), conv(middle, out_channels)]
    return nn.Sequential(*layers, *([last] if last is not None else []))


class KernelEstimation(nn.Module):
    def __init__(self, kernel_size: int = 5):
        super().__init__()
        taps = kernel_size**2
        self.moduleConv1, self.modulePool1 = basic(6, 32), nn.AvgPool2d(2, 2)
        self.moduleConv2, self.modulePool2 = basic(32, 64), nn.AvgPool2d(2, 2)
        self.moduleConv3, self.modulePool3 = basic(64, 128), nn.AvgPool2d(2, 2)
        self.moduleConv4, self.modulePool4 = basic(128, 256), nn.AvgPool2d(2, 2)
        self.moduleConv5, self.modulePool5 = basic(256, 512), nn.AvgPool2d(2, 2)
        self.moduleDeconv5, self.moduleUpsample5 = basic(512, 512), up(512)
        self.moduleDeconv4, self.moduleUpsample4 = basic(512, 256), up(256)
        self.moduleDeconv3, self.moduleUpsample3 = basic(256, 128), up(128)
        self.moduleDeconv2, self.moduleUpsample2 = basic(128, 64), up(64)
        self.moduleWeight1 = head(taps, taps, nn.Softmax(dim=1))
        self.moduleAlpha1 = head(taps, taps)
        self.moduleBeta1 = head(taps, taps)
        self.moduleWeight2 = head(taps, taps, nn.Softmax(dim=1))
        self.moduleAlpha2 = head(taps, taps)
        self.moduleBeta2 = head(taps, taps)
        self.moduleOcclusion = head(1, 64, nn.Sigmoid())

    def forward(self, frame0: torch.Tensor, frame2: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Weights, alpha, beta for frame0; the same for frame2; the occlusion map (weight of frame0)."""
        conv1 = self.moduleConv1(torch.cat([frame0, frame2], 1))
        conv2 = self.moduleConv2(self.modulePool1(conv1))
        conv3 = self.moduleConv3(self.modulePool2(conv2))
        conv4 = self.moduleConv4(self.modulePool3(conv3))
        conv5 = self.moduleConv5(self.modulePool4(conv4))
        features = self.moduleUpsample5(self.moduleDeconv5(self.modulePool5(conv5))) + conv5
        features = self.moduleUpsample4(self.moduleDeconv4(features)) + conv4
        features = self.moduleUpsample3(self.moduleDeconv3(features)) + conv3
        features = self.moduleUpsample2(self.moduleDeconv2(features)) + conv2
        heads = (
            self.moduleWeight1,
            self.moduleAlpha1,
            self.moduleBeta1,
            self.moduleWeight2,
            self.moduleAlpha2,
            self.moduleBeta2,
            self.moduleOcclusion,
        )
        return tuple(module(features) for module in heads)
