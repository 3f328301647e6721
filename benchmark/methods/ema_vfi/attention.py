"""Inter-frame attention, the paper's core: one attention map between the two frames' windows gives
both the appearance update and the motion.

Within a 7x7 window, each token of frame A queries the tokens of frame B in the same window
(``Q = X_A W_q``, ``K, V = X_B W_k, W_v``): ``A = softmax(Q K^T / sqrt(d))``. The appearance
feature is ``X_A + A V W_p`` (the official code adds it to the *normalised* tokens). The same
map applied to the tokens' embedded coordinates ``C = G W_c`` (G: positions in [-1, 1]) gives
where A's content sits in B: the motion feature is ``(A C_B - C_A) W_m``, per head.
Both frames go through together, (frame A, frame B) stacked on the batch axis: each is the
query once and the key once.

Windows alternate plain and shifted by half a window (Swin). A feature map that is not a
multiple of the window is zero-padded around its centre first; the official attention masks
(-100 added to logits across the pad or the shift's wrap-around) are reproduced as the official
code builds them, including that the padding mask of a shifted block is the un-shifted one.
The official block caches its shifted mask per padded *area*; this one builds it per call.
"""

from __future__ import annotations

import math

import torch
from torch import nn

MASKED = -100.0  # what the official masks add to the logits of pairs that must not attend


def partition(x: torch.Tensor, window: int) -> torch.Tensor:
    """(B, H, W, C) -> (B * windows, window * window, C), windows in row-major order per image."""
    batch, height, width, channels = x.shape
    x = x.view(batch, height // window, window, width // window, window, channels)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(-1, window * window, channels)


def merge(windows: torch.Tensor, window: int, height: int, width: int) -> torch.Tensor:
    """The inverse of :func:`partition`: (B * windows, window * window, C) -> (B, H, W, C)."""
    channels = windows.shape[-1]
    x = windows.view(-1, height // window, width // window, window, window, channels)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(-1, height, width, channels)


def centre_padding(height: int, width: int, window: int) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) zeros that bring the map to multiples of ``window``, split around the centre."""
    pad_h, pad_w = math.ceil(height / window) * window - height, math.ceil(width / window) * window - width
    return pad_h // 2, pad_h - pad_h // 2, pad_w // 2, pad_w - pad_w // 2


def region_mask(rows: list[slice], columns: list[slice], height: int, width: int, window: int) -> torch.Tensor:
    """(windows, N, N): 0 between tokens of the same region (the ``rows`` x ``columns`` grid), -100 across."""
    labels = torch.zeros(1, height, width, 1)
    for i, (row, column) in enumerate((row, column) for row in rows for column in columns):
        labels[:, row, column] = i
    labels = partition(labels, window).squeeze(-1)
    differs = labels.unsqueeze(1) - labels.unsqueeze(2)
    return differs.masked_fill(differs != 0, MASKED).masked_fill(differs == 0, 0.0)


class InterFrameAttention(nn.Module):
    def __init__(self, dim: int, motion_dim: int, heads: int):
        super().__init__()
        self.heads, self.scale = heads, (dim // heads) ** -0.5
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, 2 * dim)
        self.cor_embed = nn.Linear(2, motion_dim)
        self.proj = nn.Linear(dim, dim)
        self.motion_proj = nn.Linear(motion_dim, motion_dim)

    def forward(
        self, x: torch.Tensor, other: torch.Tensor, positions: torch.Tensor, mask: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Appearance update and motion of the tokens ``x`` (windows, N, C) attending to ``other``'s."""
        windows, tokens, channels = x.shape
        per_head = (windows, tokens, self.heads, -1)
        q = self.q(x).reshape(per_head).transpose(1, 2)
        k, v = self.kv(other).reshape(windows, tokens, 2, self.heads, -1).permute(2, 0, 3, 1, 4)
        coordinates = self.cor_embed(positions)  # C = G W_c
        logits = (q @ k.transpose(-2, -1)) * self.scale
        if mask is not None:  # mask: (windows per image, N, N)
            logits = logits.view(-1, mask.shape[0], self.heads, tokens, tokens) + mask[None, :, None]
            logits = logits.view(-1, self.heads, tokens, tokens)
        attention = logits.softmax(dim=-1)
        appearance = (attention @ v).transpose(1, 2).reshape(windows, tokens, channels)
        matched = (
            (attention @ coordinates.reshape(per_head).transpose(1, 2)).transpose(1, 2).reshape(windows, tokens, -1)
        )
        return self.proj(appearance), self.motion_proj(matched - coordinates)  # A V W_p, (A C_B - C_A) W_m


class DepthwiseConv(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, 3, 1, 1, groups=dim)

    def forward(self, x: torch.Tensor, height: int, width: int) -> torch.Tensor:
        batch, tokens, channels = x.shape
        x = self.dwconv(x.transpose(1, 2).reshape(batch, channels, height, width))
        return x.reshape(batch, channels, tokens).transpose(1, 2)


class Mlp(nn.Module):
    """fc1, 3x3 depthwise convolution, GELU, fc2 (PVT v2's feed-forward)."""

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.dwconv = DepthwiseConv(hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor, height: int, width: int) -> torch.Tensor:
        return self.fc2(self.act(self.dwconv(self.fc1(x), height, width)))


class InterFrameBlock(nn.Module):
    """Windowed inter-frame attention, then the feed-forward; ``shifted`` blocks roll by half a window."""

    def __init__(self, dim: int, motion_dim: int, heads: int, window: int, shifted: bool, mlp_ratio: int = 4):
        super().__init__()
        self.window, self.shift = window, window // 2 if shifted else 0
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = InterFrameAttention(dim, motion_dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, dim * mlp_ratio)

    def masks(self, height: int, width: int) -> tuple[torch.Tensor | None, int, int, tuple[int, int, int, int]]:
        """The logits mask for a (height, width) map, the padded size and the padding."""
        window, shift = self.window, self.shift
        top, bottom, left, right = padding = centre_padding(height, width, window)
        padded_h, padded_w = height + top + bottom, width + left + right
        mask = None
        if top + bottom or left + right:  # the pad apart from the map
            rows = [slice(0, top), slice(top, top + height), slice(top + height, None)]
            columns = [slice(0, left), slice(left, left + width), slice(left + width, None)]
            mask = region_mask(rows, columns, padded_h, padded_w, window)
        if shift:  # the rolled-in border apart from the rest
            rows = [slice(0, -window), slice(-window, -shift), slice(-shift, None)]
            shifted = region_mask(rows, rows, padded_h, padded_w, window)
            mask = shifted if mask is None else shifted.masked_fill(mask != 0, MASKED)
        return mask, padded_h, padded_w, padding

    def forward(
        self, x: torch.Tensor, positions: torch.Tensor, height: int, width: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``x`` (2B, H*W, C) tokens of both frames (frame A's B first), ``positions`` (2B, H, W, 2);
        returns the updated tokens and the motion (2B, H*W, motion_dim)."""
        mask, padded_h, padded_w, (top, bottom, left, right) = self.masks(height, width)
        x_map = nn.functional.pad(x.view(x.shape[0], height, width, -1), (0, 0, left, right, top, bottom))
        positions = nn.functional.pad(positions, (0, 0, left, right, top, bottom))
        if self.shift:
            x_map, positions = (torch.roll(t, (-self.shift, -self.shift), dims=(1, 2)) for t in (x_map, positions))
        tokens = self.norm1(partition(x_map, self.window))
        half = tokens.shape[0] // 2
        other = torch.cat([tokens[half:], tokens[:half]])  # each frame's windows face the other frame's
        appearance, motion = self.attn(
            tokens, other, partition(positions, self.window), None if mask is None else mask.to(x.device)
        )
        maps = [merge(t, self.window, padded_h, padded_w) for t in (tokens + appearance, motion)]
        if self.shift:
            maps = [torch.roll(t, (self.shift, self.shift), dims=(1, 2)) for t in maps]
        x, motion = (
            t[:, top : top + height, left : left + width].reshape(t.shape[0], height * width, -1) for t in maps
        )
        return x + self.mlp(self.norm2(x), height, width), motion
