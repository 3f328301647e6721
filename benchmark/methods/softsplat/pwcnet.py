"""PWC-Net optical flow (Sun et al., CVPR 2018), as the widely used PyTorch port (sniklaus/pytorch-pwc)
runs it, in pure PyTorch: the cost volume is computed with tensor shifts instead of a CUDA kernel.

A six-level feature pyramid (16 to 196 channels, 1/2 to 1/64 resolution) of both frames; from
1/64 up to 1/4 resolution a decoder per level correlates the first frame's features with the
second frame's warped by the upsampled flow (81 displacements of up to 4 px), and densely
connected convolutions estimate the flow; a dilated context network refines the last one.
Module and tensor names are those of the port's ``network-default.pytorch`` (``moduleExtractor.
moduleOne.0.weight``, ..., ``moduleRefiner.moduleMain.12.bias``), so it loads strictly.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from atdkit.benchmark.checkpoint import check_layout, layout_of, read_tensors, state_dict_of
from atdkit.benchmark.methods.softsplat.warp import backwarp_inside

LEVELS = ("One", "Two", "Thr", "Fou", "Fiv", "Six")  # the port's names of levels 1 (1/2) to 6 (1/64)
PYRAMID_CHANNELS = (16, 32, 64, 96, 128, 196)
DENSE_CHANNELS = (128, 128, 96, 64, 32)  # the decoder's densely connected convolutions
MAX_DISPLACEMENT = 4  # the cost volume's search radius: (2 * 4 + 1) ** 2 = 81 channels
FLOW_SCALE = 20.0  # the network estimates flow / 20 (in pixels of the input)
STRIDE = 64  # the coarsest level's stride: inputs are resized to a multiple of it


def leaky_relu() -> nn.LeakyReLU:
    return nn.LeakyReLU(negative_slope=0.1)


def correlation(first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
    """The cost volume: for each displacement (dx, dy) in [-4, 4]^2, the channel mean of
    first(x, y) * second(x + dx, y + dy) (zeros outside); channel (dy + 4) * 9 + (dx + 4)."""
    height, width = first.shape[-2:]
    reach = MAX_DISPLACEMENT
    padded = F.pad(second, (reach, reach, reach, reach))
    return torch.stack(
        [
            (first * padded[:, :, dy : dy + height, dx : dx + width]).mean(1)
            for dy in range(2 * reach + 1)
            for dx in range(2 * reach + 1)
        ],
        dim=1,
    )


class Extractor(nn.Module):
    """The feature pyramid: per level a stride-2 convolution and two more, with leaky ReLUs."""

    def __init__(self):
        super().__init__()
        for name, in_channels, channels in zip(LEVELS, (3,) + PYRAMID_CHANNELS, PYRAMID_CHANNELS):
            self.add_module(
                "module" + name,
                nn.Sequential(
                    nn.Conv2d(in_channels, channels, 3, stride=2, padding=1),
                    leaky_relu(),
                    nn.Conv2d(channels, channels, 3, padding=1),
                    leaky_relu(),
                    nn.Conv2d(channels, channels, 3, padding=1),
                    leaky_relu(),
                ),
            )

    def forward(self, image: torch.Tensor) -> list[torch.Tensor]:
        features = []
        for name in LEVELS:
            image = getattr(self, "module" + name)(image)
            features.append(image)
        return features


def decoder_channels(level: int) -> int:
    """What a level's decoder reads: the cost volume, and below the top level the first frame's
    features, the upsampled flow and the upsampled decoder features of the level above."""
    volume = (2 * MAX_DISPLACEMENT + 1) ** 2
    return volume if level == len(LEVELS) else volume + PYRAMID_CHANNELS[level - 1] + 2 + 2


class Decoder(nn.Module):
    """The flow estimator of pyramid level ``level`` (2 = 1/4 resolution ... 6 = 1/64)."""

    def __init__(self, level: int):
        super().__init__()
        channels = decoder_channels(level)
        if level < len(LEVELS):
            self.moduleUpflow = nn.ConvTranspose2d(2, 2, 4, stride=2, padding=1)
            self.moduleUpfeat = nn.ConvTranspose2d(
                decoder_channels(level + 1) + sum(DENSE_CHANNELS), 2, 4, stride=2, padding=1
            )
            self.backwarp_scale = FLOW_SCALE / 2**level  # flow / 20 at the input's scale -> pixels of this level
        for name, out_channels in zip(LEVELS, DENSE_CHANNELS):
            self.add_module(
                "module" + name, nn.Sequential(nn.Conv2d(channels, out_channels, 3, padding=1), leaky_relu())
            )
            channels += out_channels
        self.moduleSix = nn.Sequential(nn.Conv2d(channels, 2, 3, padding=1))

    def forward(self, first: torch.Tensor, second: torch.Tensor, above: tuple[torch.Tensor, torch.Tensor] | None):
        """(flow, features) of this level from both frames' features and the level above's (flow, features)."""
        if above is None:
            features = F.leaky_relu(correlation(first, second), 0.1)
        else:
            flow, upfeat = self.moduleUpflow(above[0]), self.moduleUpfeat(above[1])
            volume = F.leaky_relu(correlation(first, backwarp_inside(second, flow * self.backwarp_scale)), 0.1)
            features = torch.cat([volume, first, flow, upfeat], 1)
        for name in LEVELS[:-1]:
            features = torch.cat([getattr(self, "module" + name)(features), features], 1)
        return self.moduleSix(features), features


class Refiner(nn.Module):
    """The context network: dilated convolutions (1, 2, 4, 8, 16, 1, 1) on the last decoder's features."""

    def __init__(self):
        super().__init__()
        layers, channels = [], decoder_channels(2) + sum(DENSE_CHANNELS)
        for out_channels, dilation in ((128, 1), (128, 2), (128, 4), (96, 8), (64, 16), (32, 1)):
            layers += [nn.Conv2d(channels, out_channels, 3, padding=dilation, dilation=dilation), leaky_relu()]
            channels = out_channels
        self.moduleMain = nn.Sequential(*layers, nn.Conv2d(channels, 2, 3, padding=1))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.moduleMain(features)


class PWCNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.moduleExtractor = Extractor()
        for level in range(2, len(LEVELS) + 1):
            self.add_module("module" + LEVELS[level - 1], Decoder(level))
        self.moduleRefiner = Refiner()

    @classmethod
    def from_checkpoint(cls, path: str | Path) -> PWCNet:
        """The network with the weights of ``path`` (the port's ``network-default.pytorch``, keys with or
        without ``module.``), loaded strictly; CheckpointError (one line naming the file) otherwise."""
        state = state_dict_of(read_tensors(path), path)
        network = cls()
        check_layout(
            state, layout_of(network), path, "a PWC-Net checkpoint (network-default.pytorch of sniklaus/pytorch-pwc)"
        )
        network.load_state_dict(state)
        return network

    def forward(self, first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
        """The network proper: BGR frames in [0, 1] whose sides are multiples of 64; flow at 1/4
        resolution, in input pixels."""
        pyramid_first, pyramid_second = self.moduleExtractor(first), self.moduleExtractor(second)
        estimate = None
        for level in range(len(LEVELS), 1, -1):
            decoder = getattr(self, "module" + LEVELS[level - 1])
            estimate = decoder(pyramid_first[level - 1], pyramid_second[level - 1], estimate)
        flow, features = estimate
        return (flow + self.moduleRefiner(features)) * FLOW_SCALE

    def flow(self, first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
        """Optical flow first -> second (N, 2, H, W, pixels, channel 0 = x) of RGB frames in [0, 1] of any size.

        As the port's ``estimate``: the frames (as BGR) are resized bilinearly to the next multiple
        of 64, and the flow resized back and its displacements scaled to the frames' size.
        """
        height, width = first.shape[-2:]
        size = (math.ceil(height / STRIDE) * STRIDE, math.ceil(width / STRIDE) * STRIDE)
        first, second = (
            F.interpolate(frame.flip(1), size=size, mode="bilinear", align_corners=False) for frame in (first, second)
        )
        flow = F.interpolate(self(first, second), size=(height, width), mode="bilinear", align_corners=False)
        scale = torch.tensor([width / size[1], height / size[0]], dtype=flow.dtype, device=flow.device)
        return flow * scale.view(1, 2, 1, 1)
