"""GMFlow's feature transformer: six blocks, each self-attention then cross-attention with a feed-forward
network, single-head, shared by both frames (each attends to the other). Attention runs inside windows:
the feature map is cut into ``splits`` x ``splits`` windows (Swin Transformer), and every second block
shifts the windows by half their size (cyclic roll, with an additive -100 mask on pairs of positions
that the roll brought together from different regions). A sine position encoding is added per window
first (DETR's, normalised to 2 pi over the window).

Module names follow the released ``flownet.pkl`` (``transformer.layers.{i}.self_attn`` and
``.cross_attn_ffn``: ``q_proj``, ``k_proj``, ``v_proj``, ``merge``, ``norm1``; ``mlp``, ``norm2``).
"""

from __future__ import annotations

import math

import torch
from torch import nn

MASKED = -100.0  # the additive score of pairs the shifted windows must not relate (GMFlow's value)


def position_encoding(height: int, width: int, channels: int, device: torch.device) -> torch.Tensor:
    """The (height, width, channels) sine encoding: channels/2 for y then channels/2 for x, each
    interleaving sin and cos of (position / size) * 2 pi / 10000^(2j / (channels/2))."""
    half = channels // 2
    frequencies = 10000 ** (torch.arange(0, half, 2, dtype=torch.float32, device=device) / half)

    def encode(size: int) -> torch.Tensor:  # (size, half)
        position = torch.arange(1, size + 1, dtype=torch.float32, device=device) / (size + 1e-6) * (2 * math.pi)
        angles = position[:, None] / frequencies
        return torch.stack([angles.sin(), angles.cos()], dim=-1).flatten(1)

    ys = encode(height)[:, None].expand(height, width, half)
    xs = encode(width)[None].expand(height, width, half)
    return torch.cat([ys, xs], dim=-1)


def to_windows(x: torch.Tensor, splits: int) -> torch.Tensor:
    """(B, H, W, C) -> (B * splits^2, H/splits * W/splits, C), windows row by row."""
    batch, height, width, channels = x.shape
    x = x.view(batch, splits, height // splits, splits, width // splits, channels)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(batch * splits * splits, -1, channels)


def from_windows(x: torch.Tensor, splits: int, height: int, width: int) -> torch.Tensor:
    """The inverse of :func:`to_windows`."""
    channels = x.shape[-1]
    x = x.view(-1, splits, splits, height // splits, width // splits, channels)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(-1, height, width, channels)


def add_position(feature: torch.Tensor, splits: int) -> torch.Tensor:
    """``feature`` (B, C, H, W) plus the position encoding of a window, repeated in every window."""
    _, channels, height, width = feature.shape
    encoding = position_encoding(height // splits, width // splits, channels, feature.device)
    return feature + encoding.repeat(splits, splits, 1).permute(2, 0, 1)


def shift_mask(height: int, width: int, splits: int, device: torch.device) -> torch.Tensor:
    """(splits^2, L, L) additive mask of the shifted windows: 0 within a region, -100 across regions.

    After rolling by half a window, the last window row and column join pixels from three bands:
    [0, H - window), [H - window, H - shift), [H - shift, H) (and likewise in x). Windows one pixel
    across are not shifted, and make one band (as Swin's slices ``[-0:]`` make them in GMFlow)."""

    def bands(size: int) -> torch.Tensor:
        window = size // splits
        position = torch.arange(size, device=device)
        if window // 2 == 0:
            return torch.zeros_like(position)
        return (position >= size - window).long() + (position >= size - window // 2).long()

    region = (bands(height)[:, None] * 3 + bands(width)[None]).view(1, height, width, 1).float()
    labels = to_windows(region, splits).squeeze(-1)  # (splits^2, L)
    different = labels[:, None, :] != labels[:, :, None]
    return torch.zeros(different.shape, device=device).masked_fill(different, MASKED)


def window_attention(
    query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, splits: int, mask: torch.Tensor | None
) -> torch.Tensor:
    """Scaled dot-product attention within windows of (B, H, W, C) maps; with ``mask`` (the shifted blocks)
    the maps are rolled by half a window first and rolled back after."""
    batch, height, width, channels = query.shape
    shift = (height // splits // 2, width // splits // 2)
    if mask is not None:
        query, key, value = (torch.roll(x, (-shift[0], -shift[1]), dims=(1, 2)) for x in (query, key, value))
    query, key, value = (to_windows(x, splits) for x in (query, key, value))
    scores = query @ key.transpose(1, 2) / channels**0.5
    if mask is not None:
        scores = scores + mask.repeat(batch, 1, 1)
    out = from_windows(torch.softmax(scores, dim=-1) @ value, splits, height, width)
    return torch.roll(out, shift, dims=(1, 2)) if mask is not None else out


class TransformerLayer(nn.Module):
    """source + norm(merge(attention(q(source), k(target), v(target)))), then with ``ffn``:
    source + norm(mlp([source, that message]))."""

    def __init__(self, channels: int, ffn: bool, expansion: int = 4):
        super().__init__()
        self.q_proj, self.k_proj, self.v_proj, self.merge = (
            nn.Linear(channels, channels, bias=False) for _ in range(4)
        )
        self.norm1 = nn.LayerNorm(channels)
        self.ffn = ffn
        if ffn:
            self.mlp = nn.Sequential(
                nn.Linear(2 * channels, 2 * channels * expansion, bias=False),
                nn.GELU(),
                nn.Linear(2 * channels * expansion, channels, bias=False),
            )
            self.norm2 = nn.LayerNorm(channels)

    def forward(self, source: torch.Tensor, target: torch.Tensor, splits: int, mask: torch.Tensor | None):
        message = window_attention(self.q_proj(source), self.k_proj(target), self.v_proj(target), splits, mask)
        message = self.norm1(self.merge(message))
        if self.ffn:
            message = self.norm2(self.mlp(torch.cat([source, message], dim=-1)))
        return source + message


class TransformerBlock(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.self_attn = TransformerLayer(channels, ffn=False)
        self.cross_attn_ffn = TransformerLayer(channels, ffn=True)

    def forward(self, source, target, splits: int, mask: torch.Tensor | None):
        return self.cross_attn_ffn(self.self_attn(source, source, splits, mask), target, splits, mask)


class FeatureTransformer(nn.Module):
    def __init__(self, channels: int = 128, layers: int = 6):
        super().__init__()
        self.layers = nn.ModuleList(TransformerBlock(channels) for _ in range(layers))

    def forward(self, feature0: torch.Tensor, feature1: torch.Tensor, splits: int):
        """Both frames' features (B, C, H, W; H and W divisible by ``splits``), each having attended to
        itself and to the other in every block."""
        batch, _, height, width = feature0.shape
        mask = shift_mask(height, width, splits, feature0.device) if splits > 1 else None
        both = torch.cat([feature0, feature1]).permute(0, 2, 3, 1)  # (2B, H, W, C): frame 0's, then frame 1's
        for i, layer in enumerate(self.layers):
            other = torch.cat([both[batch:], both[:batch]])  # each frame's counterpart, as the block starts
            both = layer(both, other, splits, mask if i % 2 else None)  # every second block shifted
        both = both.permute(0, 3, 1, 2).contiguous()
        return both[:batch], both[batch:]
