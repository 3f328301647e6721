"""EMA-VFI's hybrid CNN-Transformer feature extractor (the official ``MotionFormer``).

Five stages, both frames as one batch: three convolutional stages (full, 1/2 and 1/4 resolution;
F, 2F, 4F channels; 3x3 convolutions with PReLU), then two stages of inter-frame attention
blocks at 1/8 and 1/16 (8F and 16F channels). The 1/8 stage is entered by a cross-scale patch
embedding: strided and dilated 3x3 convolutions of all three convolutional stages (1/4: one;
1/2: dilations 1, 2; full: dilations 1..4), concatenated, a 1x1 projection and a LayerNorm. The
1/16 stage is entered by a stride-2 3x3 convolution and a LayerNorm.

Returned: the appearance features of every stage (for the refinement U-Net and the flow heads)
and, for the two attention stages, the motion features of all their blocks, concatenated.
"""

from __future__ import annotations

import torch
from torch import nn

from atdkit.benchmark.methods.ema_vfi.attention import InterFrameBlock


class ConvStage(nn.Module):
    def __init__(self, in_channels: int, channels: int, depth: int):
        super().__init__()
        layers = []
        for i in range(depth):
            layers += [nn.Conv2d(in_channels if i == 0 else channels, channels, 3, 1, 1), nn.PReLU(channels)]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class CrossScalePatchEmbed(nn.Module):
    def __init__(self, in_dims: list[int], dim: int):
        super().__init__()
        base = in_dims[0]
        self.layers = nn.ModuleList(
            nn.Conv2d(in_dims[-1 - i], base, 3, 2 ** (i + 1), padding=1 + j, dilation=1 + j)
            for i in range(len(in_dims))
            for j in range(2**i)
        )
        self.proj = nn.Conv2d(base * len(self.layers), dim, 1)
        self.norm = nn.LayerNorm(dim)

    def forward(self, features: list[torch.Tensor]) -> tuple[torch.Tensor, int, int]:
        """Tokens (B, H*W, dim) at 1/8 from the 1/4, 1/2 and full-resolution features, and H, W."""
        sources = [features[-1 - i] for i in range(len(features)) for _ in range(2**i)]
        x = self.proj(torch.cat([layer(source) for layer, source in zip(self.layers, sources)], 1))
        height, width = x.shape[-2:]
        return self.norm(x.flatten(2).transpose(1, 2)), height, width


class OverlapPatchEmbed(nn.Module):
    def __init__(self, in_channels: int, dim: int):
        super().__init__()
        self.proj = nn.Conv2d(in_channels, dim, 3, 2, 1)
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, int, int]:
        x = self.proj(x)
        height, width = x.shape[-2:]
        return self.norm(x.flatten(2).transpose(1, 2)), height, width


def positions(batch: int, height: int, width: int, device: torch.device) -> torch.Tensor:
    """(batch, H, W, 2): each token's (x, y) in [-1, 1], the coordinates G the motion is measured in."""
    xs = torch.linspace(-1.0, 1.0, width, device=device).view(1, 1, width, 1).expand(batch, height, width, 1)
    ys = torch.linspace(-1.0, 1.0, height, device=device).view(1, height, 1, 1).expand(batch, height, width, 1)
    return torch.cat([xs, ys], -1)


class FeatureExtractor(nn.Module):
    """Module names follow the official ``feature_bone``: ``block1..5``, ``patch_embed2..5``, ``norm4/5``."""

    def __init__(self, dims: list[int], motion_dims: list[int], depths: list[int], heads: list[int], window: int):
        super().__init__()
        self.block1 = ConvStage(3, dims[0], depths[0])
        for i in (1, 2):
            setattr(
                self, f"patch_embed{i + 1}", nn.Sequential(nn.Conv2d(dims[i - 1], dims[i], 3, 2, 1), nn.PReLU(dims[i]))
            )
            setattr(self, f"block{i + 1}", ConvStage(dims[i], dims[i], depths[i]))
        self.patch_embed4 = CrossScalePatchEmbed(dims[:3], dims[3])
        self.patch_embed5 = OverlapPatchEmbed(dims[3], dims[4])
        for i, stage_heads in zip((3, 4), heads):
            blocks = (
                InterFrameBlock(dims[i], motion_dims[i], stage_heads, window, shifted=j % 2 == 1)
                for j in range(depths[i])
            )
            setattr(self, f"block{i + 1}", nn.ModuleList(blocks))
            setattr(self, f"norm{i + 1}", nn.LayerNorm(dims[i], eps=1e-6))

    def forward(self, frame0: torch.Tensor, frame1: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Appearance features of the five stages and motion features of the last two, each (2B, C, H, W):
        frame0's B first, frame1's after."""
        x = self.block1(torch.cat([frame0, frame1], 0))
        appearance = [x]
        for i in (2, 3):
            x = getattr(self, f"block{i}")(getattr(self, f"patch_embed{i}")(x))
            appearance.append(x)
        motion = []
        for i in (4, 5):
            x, height, width = self.patch_embed4(appearance) if i == 4 else self.patch_embed5(x)
            grid = positions(x.shape[0], height, width, x.device)
            motions = []
            for block in getattr(self, f"block{i}"):
                x, block_motion = block(x, grid, height, width)
                motions.append(block_motion.reshape(x.shape[0], height, width, -1).permute(0, 3, 1, 2))
            x = getattr(self, f"norm{i}")(x).reshape(x.shape[0], height, width, -1).permute(0, 3, 1, 2).contiguous()
            appearance.append(x)
            motion.append(torch.cat(motions, 1))
        return appearance, motion
