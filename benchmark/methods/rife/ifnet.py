"""RIFE 4.6's IFNet (Huang et al., "Real-Time Intermediate Flow Estimation for Video Frame
Interpolation", ECCV 2022; the Practical-RIFE v4.6 model of 2022-09-26): the flow network is
the whole interpolator.

Four IFBlocks refine, coarse to fine, the flows from time t to both frames and a fusion mask,
at 1/8, 1/4, 1/2 and full resolution (Practical-RIFE's scale list 8, 4, 2, 1 at its default
scale 1.0). The first block sees both frames and the timestep (a constant channel); the
others see both frames backward-warped along the current flows, the timestep, the current mask
and the current flows, and add residuals. Each block works on its input resized by 1/scale
(bilinear) and returns its output resized back, flows multiplied by the scale. The frame is
the blend of both warped frames by the sigmoid of the final mask.

A block: two stride-2 3x3 convolutions, eight residual 3x3 convolutions scaled by a learnt
per-channel ``beta`` (LeakyReLU 0.2 throughout), a stride-2 4x4 transposed convolution to 24
channels and a 2x pixel shuffle: 6 channels at the block's input resolution (4 flow, 1 mask,
1 unused). Heights and widths must be multiples of 32 (the 1/8 block halves twice more).

Module names follow the released ``flownet.pkl`` (a bare state dict saved from
DistributedDataParallel: every key starts with ``module.``).
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from atdkit.benchmark.checkpoint import check_layout, layout_of, read_tensors, state_dict_of

SCALES = (8, 4, 2, 1)
SLOPE = 0.2


def conv(in_channels: int, out_channels: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 3, stride, 1), nn.LeakyReLU(SLOPE))


class ResConv(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, 1, 1)
        self.beta = nn.Parameter(torch.ones(1, channels, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(self.conv(x) * self.beta + x, SLOPE)


class IFBlock(nn.Module):
    def __init__(self, in_channels: int, channels: int):
        super().__init__()
        self.conv0 = nn.Sequential(conv(in_channels, channels // 2, 2), conv(channels // 2, channels, 2))
        self.convblock = nn.Sequential(*(ResConv(channels) for _ in range(8)))
        self.lastconv = nn.Sequential(nn.ConvTranspose2d(channels, 4 * 6, 4, 2, 1), nn.PixelShuffle(2))

    def forward(self, x: torch.Tensor, flow: torch.Tensor | None, scale: float) -> tuple[torch.Tensor, torch.Tensor]:
        """Flows (t->0, t->1; 4 channels, px) and mask logits (1 channel) at the input's resolution."""
        if scale != 1:
            x = F.interpolate(x, scale_factor=1 / scale, mode="bilinear", align_corners=False)
        if flow is not None:
            if scale != 1:
                flow = F.interpolate(flow, scale_factor=1 / scale, mode="bilinear", align_corners=False) / scale
            x = torch.cat([x, flow], dim=1)
        out = self.lastconv(self.convblock(self.conv0(x)))
        if scale != 1:
            out = F.interpolate(out, scale_factor=scale, mode="bilinear", align_corners=False)
        return out[:, :4] * scale, out[:, 4:5]


def warp(image: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """``image`` (B, C, H, W) sampled bilinearly at (x + u, y + v), pixel-exact, edges repeated outside;
    in float32 (half-precision coordinates would be off by up to a quarter pixel)."""
    height, width = image.shape[-2:]
    flow = flow.float()
    xs = torch.linspace(-1, 1, width, device=flow.device).view(1, 1, width)
    ys = torch.linspace(-1, 1, height, device=flow.device).view(1, height, 1)
    grid = torch.stack([xs + flow[:, 0] / ((width - 1) / 2), ys + flow[:, 1] / ((height - 1) / 2)], dim=-1)
    warped = F.grid_sample(image.float(), grid, mode="bilinear", padding_mode="border", align_corners=True)
    return warped.to(image.dtype)


class IFNet(nn.Module):
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
        state = state_dict_of(read_tensors(path), path)
        model = cls()
        check_layout(state, layout_of(model), path, "a RIFE 4.6 flownet.pkl (Practical-RIFE v4.6)")
        model.load_state_dict(state, strict=True)
        return model.to(device).eval()

    def forward(self, frame0: torch.Tensor, frame1: torch.Tensor, timestep: float = 0.5) -> torch.Tensor:
        """The frame at ``timestep`` between ``frame0`` and ``frame1`` (B, 3, H, W, RGB in [0, 1]; H and W
        multiples of 32), unclamped."""
        height, width = frame0.shape[-2:]
        if height % 32 or width % 32:
            raise ValueError(f"RIFE 4.6 needs a height and width divisible by 32, got {width}x{height}: pad the frames")
        time = torch.full_like(frame0[:, :1], timestep)
        flow = mask = None
        warped0, warped1 = frame0, frame1
        for block, scale in zip((self.block0, self.block1, self.block2, self.block3), SCALES):
            if flow is None:
                flow, mask = block(torch.cat([frame0, frame1, time], dim=1), None, scale)
            else:
                flow_residual, mask_residual = block(torch.cat([warped0, warped1, time, mask], dim=1), flow, scale)
                flow, mask = flow + flow_residual, mask + mask_residual
            warped0, warped1 = warp(frame0, flow[:, :2]), warp(frame1, flow[:, 2:4])
        mask = torch.sigmoid(mask)
        return warped0 * mask + warped1 * (1 - mask)
