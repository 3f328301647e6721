"""GMFlow's CNN backbone (Xu et al., "GMFlow: Learning Optical Flow via Global Matching", CVPR 2022) as
GMFSS_Fortuna configures it (two scales): a 7x7 stride-2 convolution and three stages of two residual
blocks (64, 96 and 128 channels; instance normalisation without learnt parameters), a 1x1 projection,
then one shared 3x3 convolution applied at stride 1 and 2 (TridentNet's weight-sharing convolution):
features at 1/4 and 1/8 of the input's resolution, 128 channels each.

Module names follow the released ``flownet.pkl`` (``backbone.*``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

STAGES = ((64, 1), (96, 2), (128, 1))  # (channels, stride of the first block) of layer1..layer3


def instance_norm(x: torch.Tensor) -> torch.Tensor:
    return F.instance_norm(x, eps=1e-5)


class ResidualBlock(nn.Module):
    def __init__(self, in_channels: int, channels: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, channels, 3, stride, 1, bias=False)
        self.conv2 = nn.Conv2d(channels, channels, 3, 1, 1, bias=False)
        changes = stride != 1 or in_channels != channels
        # a 1x1 projection of the shortcut where the shape changes (index 1 is its parameterless norm)
        self.downsample = nn.Sequential(nn.Conv2d(in_channels, channels, 1, stride)) if changes else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(instance_norm(self.conv1(x)))
        y = F.relu(instance_norm(self.conv2(y)))
        shortcut = x if self.downsample is None else instance_norm(self.downsample(x))
        return F.relu(shortcut + y)


class CNNEncoder(nn.Module):
    def __init__(self, channels: int = 128):
        super().__init__()
        self.conv1 = nn.Conv2d(3, STAGES[0][0], 7, 2, 3, bias=False)
        previous = STAGES[0][0]
        for i, (width, stride) in enumerate(STAGES, 1):
            blocks = (ResidualBlock(previous, width, stride), ResidualBlock(width, width, 1))
            self.add_module(f"layer{i}", nn.Sequential(*blocks))
            previous = width
        self.conv2 = nn.Conv2d(previous, channels, 1)
        self.trident_conv = TridentConv(channels)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Features of ``x`` (N, 3, H, W): at 1/8 and at 1/4 of its resolution, coarse first."""
        x = F.relu(instance_norm(self.conv1(x)))
        x = self.conv2(self.layer3(self.layer2(self.layer1(x))))
        fine, coarse = self.trident_conv(x)
        return coarse, fine


class TridentConv(nn.Module):
    """One 3x3 convolution (no bias) applied at stride 1 and at stride 2."""

    def __init__(self, channels: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(channels, channels, 3, 3))
        nn.init.kaiming_uniform_(self.weight, nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return F.conv2d(x, self.weight, padding=1), F.conv2d(x, self.weight, stride=2, padding=1)
