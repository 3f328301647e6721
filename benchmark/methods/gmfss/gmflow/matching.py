"""GMFlow's matching and flow propagation (section 3.3 and 3.4 of the paper).

Matching turns feature similarity into flow: the correlation of each frame-0 feature with frame-1
features (dot product / sqrt(C)), a softmax over the candidates, and the expected position minus the
pixel's own (eq. 4-5). Global matching takes every pixel of frame 1 as candidate; local matching the
(2r+1)^2 pixels around the same position (those outside the image excluded).

Propagation (eq. 6) replaces each pixel's flow by an attention-weighted average of flows, the weights
from frame 0's feature self-similarity: over the whole image, or over the 3x3 neighbourhood, where
positions outside the image take part as zero keys with zero flow (as GMFlow's ``unfold`` pads).
Module names follow the released ``flownet.pkl`` (``feature_flow_attn.q_proj``, ``.k_proj``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def pixel_grid(batch: int, height: int, width: int, device: torch.device) -> torch.Tensor:
    """(batch, H*W, 2) pixel positions (x, y), row by row (a transposed (batch, 2, H*W) tensor, as GMFlow's:
    the same memory layout keeps the matrix products' rounding the same)."""
    ys, xs = torch.meshgrid(
        torch.arange(height, device=device, dtype=torch.float32),
        torch.arange(width, device=device, dtype=torch.float32),
        indexing="ij",
    )
    return torch.stack([xs, ys]).view(1, 2, -1).repeat(batch, 1, 1).transpose(1, 2)


def global_matching(feature0: torch.Tensor, feature1: torch.Tensor) -> torch.Tensor:
    """Flow (B, 2, H, W) from frame 0 to frame 1 by softmax over all of frame 1's pixels."""
    batch, channels, height, width = feature0.shape
    correlation = feature0.flatten(2).transpose(1, 2) @ feature1.flatten(2) / channels**0.5  # (B, HW, HW)
    grid = pixel_grid(batch, height, width, feature0.device)
    flow = torch.softmax(correlation, dim=-1) @ grid - grid
    return flow.transpose(1, 2).reshape(batch, 2, height, width)


def local_matching(feature0: torch.Tensor, feature1: torch.Tensor, radius: int) -> torch.Tensor:
    """Flow (B, 2, H, W) by softmax over the (2r+1)^2 frame-1 pixels around each pixel (inside the image).

    The candidates are read with ``grid_sample`` at their normalised positions, as GMFlow reads them
    (at whole pixels, up to the rounding of the normalisation, which the matching's sharp softmax
    would otherwise magnify)."""
    batch, channels, height, width = feature0.shape
    offsets = torch.arange(-radius, radius + 1, device=feature0.device, dtype=torch.float32)
    dy, dx = torch.meshgrid(offsets, offsets, indexing="ij")
    grid = pixel_grid(batch, height, width, feature0.device)  # (B, HW, 2)
    positions = grid[:, :, None] + torch.stack([dx.flatten(), dy.flatten()], dim=-1)  # (B, HW, K, 2)
    x, y = positions.unbind(-1)
    inside = (x >= 0) & (x < width) & (y >= 0) & (y < height)
    half = torch.tensor([(width - 1) / 2, (height - 1) / 2], device=feature0.device)
    window = F.grid_sample(feature1, (positions - half) / half, padding_mode="zeros", align_corners=True)
    query = feature0.flatten(2).transpose(1, 2)[:, :, None]  # (B, HW, 1, C)
    correlation = (query @ window.permute(0, 2, 1, 3)).squeeze(2) / channels**0.5  # (B, HW, K)
    probability = torch.softmax(correlation.masked_fill(~inside, -1e9), dim=-1)
    flow = (probability[:, :, None] @ positions).squeeze(2) - grid
    return flow.transpose(1, 2).reshape(batch, 2, height, width)


class FlowPropagation(nn.Module):
    def __init__(self, channels: int = 128):
        super().__init__()
        self.q_proj = nn.Linear(channels, channels)
        self.k_proj = nn.Linear(channels, channels)

    def forward(self, feature: torch.Tensor, flow: torch.Tensor, radius: int | None) -> torch.Tensor:
        """``flow`` (B, 2, H, W) averaged by ``feature``'s (B, C, H, W) self-attention: over the image
        (``radius`` None) or the (2r+1)^2 neighbourhood."""
        batch, channels, height, width = feature.shape
        pixels = feature.flatten(2).transpose(1, 2)  # (B, HW, C)
        query = self.q_proj(pixels)
        if radius is None:
            key = self.k_proj(query)  # the key projects the projected query: the released weights were trained so
            weights = torch.softmax(query @ key.transpose(1, 2) / channels**0.5, dim=-1)
            out = weights @ flow.flatten(2).transpose(1, 2)  # (B, HW, 2)
            return out.transpose(1, 2).reshape(batch, 2, height, width)
        size = 2 * radius + 1
        key = self.k_proj(pixels).transpose(1, 2).reshape(batch, channels, height, width)
        keys = F.unfold(key, size, padding=radius).view(batch, channels, size * size, height * width)
        flows = F.unfold(flow, size, padding=radius).view(batch, 2, size * size, height * width)
        scores = torch.einsum("bpc,bckp->bpk", query, keys) / channels**0.5
        out = torch.einsum("bpk,bckp->bcp", torch.softmax(scores, dim=-1), flows)
        return out.view(batch, 2, height, width)
