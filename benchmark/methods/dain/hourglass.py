"""DAIN's depth network (``depthNet``): the MegaDepth hourglass (Li & Snavely, CVPR 2018; the
architecture of Chen et al.'s "Single-Image Depth Perception in the Wild"), giving log depth.

A 7x7 convolution to 128 channels (batch norm, ReLU), four nested hourglass stages and a 3x3
convolution to one channel. Each stage adds two paths: one at the input's resolution, one pooled
by 2, through the next stage and upsampled back (nearest). Every block is an inception module:
branches of a 1x1 convolution, or a 1x1 then a kxk convolution, each followed by a batch norm
without affine parameters and a ReLU, concatenated.

DAIN's copy is a Torch7 model converted to nested ``nn.Sequential``s; the containers here keep its
state-dict names: an inception module's branches are its children ``0``-``3``, a stage's two paths
``0.0`` and ``0.1``.
"""

from __future__ import annotations

import torch
from torch import nn


def branch(in_channels: int, out_channels: int, kernel: int = 1, middle: int = 0) -> nn.Sequential:
    layers = []
    if kernel > 1:
        layers += [nn.Conv2d(in_channels, middle, 1), nn.BatchNorm2d(middle, affine=False), nn.ReLU()]
        in_channels = middle
    layers += [
        nn.Conv2d(in_channels, out_channels, kernel, padding=kernel // 2),
        nn.BatchNorm2d(out_channels, affine=False),
        nn.ReLU(),
    ]
    return nn.Sequential(*layers)


class Inception(nn.Sequential):
    """``inception(in_channels, [[out], [k, middle, out], ...])`` in the DIW notation."""

    def __init__(self, in_channels: int, config: list[list[int]]):
        (first,), *others = config
        super().__init__(
            branch(in_channels, first),
            *(branch(in_channels, out, kernel, middle) for kernel, middle, out in others),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([path(x) for path in self], 1)


class Stage(nn.Module):
    """Two paths added (Torch7's ConcatTable and CAddTable): state-dict names ``0.0.*`` and ``0.1.*``."""

    def __init__(self, first: nn.Module, second: nn.Module):
        super().__init__()
        self.add_module("0", nn.ModuleList([first, second]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        first, second = self.get_submodule("0")
        return first(x) + second(x)


def mix(in_channels: int, out: int, middle: int, kernels=(3, 5, 7)) -> Inception:
    """The common inception module: a 1x1 branch and three 1x1-then-kxk ones, ``out`` channels each."""
    return Inception(in_channels, [[out], *([kernel, middle, out] for kernel in kernels)])


def down(*layers: nn.Module, pool=nn.MaxPool2d) -> nn.Sequential:
    return nn.Sequential(pool(2), *layers, nn.UpsamplingNearest2d(scale_factor=2))


def stage1() -> Stage:  # 256 channels at 1/8
    return Stage(
        nn.Sequential(mix(256, 64, 32), mix(256, 64, 32)),
        down(mix(256, 64, 32), mix(256, 64, 32), mix(256, 64, 32), pool=nn.AvgPool2d),
    )


def stage2() -> Stage:  # 256 channels at 1/4
    return Stage(
        nn.Sequential(mix(256, 64, 32), mix(256, 64, 64, (3, 7, 11))),
        down(mix(256, 64, 32), mix(256, 64, 32), stage1(), mix(256, 64, 32), mix(256, 64, 64, (3, 7, 11)),
             pool=nn.AvgPool2d),
    )  # fmt: skip


def stage3() -> Stage:  # 128 channels at 1/2
    return Stage(
        down(mix(128, 32, 32), mix(128, 64, 32), stage2(), mix(256, 64, 32), mix(256, 32, 32)),
        nn.Sequential(mix(128, 32, 32), mix(128, 32, 64, (3, 7, 11))),
    )


def stage4() -> Stage:  # 128 channels at full resolution
    return Stage(
        down(mix(128, 32, 32), mix(128, 32, 32), stage3(), mix(128, 32, 64), mix(128, 16, 32, (3, 7, 11))),
        nn.Sequential(mix(128, 16, 64, (3, 7, 11))),
    )


class Hourglass(nn.Sequential):
    def __init__(self):
        super().__init__(
            nn.Conv2d(3, 128, 7, padding=3), nn.BatchNorm2d(128), nn.ReLU(), stage4(), nn.Conv2d(64, 1, 3, padding=1)
        )
