"""Recurrent Flow Refinement (paper section 4.2): RAFT's recurrent refinement started from the SGM flow.

How the released weights were trained, and so what this network must do to reproduce them:
- Frames are resized (bilinear) to the multiple of 8 below their size and the initial flow,
  resized with nearest interpolation to 1/8 of that and scaled, starts the refinement. It is
  added to the coordinates twice (before the loop and again in its first iteration), so the
  refinement effectively starts from twice the downsampled initial flow.
- The feature encoder also serves as the context network: its output for the first frame is
  split into the GRU's hidden state (tanh) and context (relu). There is no separate encoder.
- The confidence network of the paper (``attention2``: the map g that scales the coarse flow by
  exp(-g^2)) is part of the checkpoint, but the official forward pass discards its output:
  its tensors load, it is not run.
- 12 iterations (eq. 8), convex 8x upsampling of the last flow, scaled back to the input size
  and resized bilinearly to it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from atdkit.benchmark.methods.animeinterp.corr import CorrBlock
from atdkit.benchmark.methods.animeinterp.extractor import BasicEncoder
from atdkit.benchmark.methods.animeinterp.update import BasicUpdateBlock

HIDDEN_DIM = CONTEXT_DIM = 128
MIN_SIZE = 128  # the correlation pyramid's coarsest level (1/64) needs 2 pixels a side


class ErrorAttention(nn.Module):
    """The layers of the paper's three-layer confidence network (input: frame 0, |I1(x + f) - I0(x)|
    and the flow; conv3 also sees the input). The official forward pass discards its output, so
    only its weights are held, for the checkpoint to load strictly."""

    def __init__(self, in_channels: int = 6, out_channels: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 32, 5, padding=2)
        self.conv2 = nn.Conv2d(32, 32, 3, padding=1)
        self.conv3 = nn.Conv2d(32 + in_channels, out_channels, 3, padding=1)
        self.prelu1 = nn.PReLU()
        self.prelu2 = nn.PReLU()


def coords_grid(batch: int, height: int, width: int, like: torch.Tensor) -> torch.Tensor:
    """Pixel coordinates (batch, 2, height, width), channel 0 = x."""
    ys, xs = torch.meshgrid(
        torch.arange(height, dtype=like.dtype, device=like.device),
        torch.arange(width, dtype=like.dtype, device=like.device),
        indexing="ij",
    )
    return torch.stack([xs, ys])[None].expand(batch, 2, height, width)


def resize_flow(flow: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """``flow`` resized to ``size`` (H, W) with nearest interpolation, each component scaled by the
    size ratio along its axis."""
    height, width = flow.shape[-2:]
    resized = F.interpolate(flow, size=size, mode="nearest")
    return torch.cat([resized[:, :1] * (size[1] / width), resized[:, 1:] * (size[0] / height)], dim=1)


def convex_upsample(flow: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Flow at 1/8 resolution (B, 2, H, W) -> (B, 2, 8H, 8W): each fine pixel a softmax-weighted
    combination of the 3x3 coarse neighbours (RAFT)."""
    batch, _, height, width = flow.shape
    weights = torch.softmax(mask.reshape(batch, 1, 9, 8, 8, height, width), dim=2)
    neighbours = F.unfold(8 * flow, [3, 3], padding=1).view(batch, 2, 9, 1, 1, height, width)
    fine = torch.sum(weights * neighbours, dim=2)  # (B, 2, 8, 8, H, W)
    return fine.permute(0, 1, 4, 2, 5, 3).reshape(batch, 2, 8 * height, 8 * width)


class RFR(nn.Module):
    def __init__(self, iters: int = 12):
        super().__init__()
        self.iters = iters
        self.attention2 = ErrorAttention(6, 1)
        self.fnet = BasicEncoder(output_dim=HIDDEN_DIM + CONTEXT_DIM)
        self.update_block = BasicUpdateBlock(hidden_dim=HIDDEN_DIM, context_dim=CONTEXT_DIM)

    def forward(
        self, image0: torch.Tensor, image1: torch.Tensor, flow_init: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Flow from ``image0`` to ``image1`` (N, 3, H, W in [-1, 1]) refined from ``flow_init`` (N, 2, H, W, px)."""
        fmap0, fmap1 = self.encode(torch.cat([image0, image1])).chunk(2)
        return self.refine(fmap0, fmap1, flow_init, image0.shape[-2:])

    def bidirectional(self, image0, image1, flow01_init=None, flow10_init=None) -> tuple[torch.Tensor, torch.Tensor]:
        """Both flows, 0 -> 1 and 1 -> 0, from one encoding of each frame, refined as one batch."""
        batch = image0.shape[0]
        fmap0, fmap1 = self.encode(torch.cat([image0, image1])).split(batch)
        if flow01_init is None and flow10_init is None:
            flow_init = None
        else:
            zeros = torch.zeros_like(image0[:, :2])
            flow_init = torch.cat(
                [zeros if flow01_init is None else flow01_init, zeros if flow10_init is None else flow10_init]
            )
        flows = self.refine(torch.cat([fmap0, fmap1]), torch.cat([fmap1, fmap0]), flow_init, image0.shape[-2:])
        return flows[:batch], flows[batch:]

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """Features at 1/8 of the frames resized (bilinear) to the multiple of 8 below their size."""
        height, width = images.shape[-2:]
        if height < MIN_SIZE or width < MIN_SIZE:
            raise ValueError(
                f"frames of {width}x{height} are too small for the flow network ({MIN_SIZE}x{MIN_SIZE} at least)"
            )
        images = F.interpolate(images, size=(height // 8 * 8, width // 8 * 8), mode="bilinear", align_corners=False)
        return self.fnet(images).float()

    def refine(self, fmap0: torch.Tensor, fmap1: torch.Tensor, flow_init: torch.Tensor | None, size) -> torch.Tensor:
        """The recurrent refinement (eqs. 7, 8) on encoded frames; the flow at the frames' ``size`` (H, W)."""
        height, width = size
        height8, width8 = height // 8 * 8, width // 8 * 8
        corr = CorrBlock(fmap0, fmap1)
        hidden, context = torch.split(fmap0, [HIDDEN_DIM, CONTEXT_DIM], dim=1)  # fnet doubles as the context net
        hidden, context = torch.tanh(hidden), torch.relu(context)

        coords0 = coords_grid(fmap0.shape[0], *fmap0.shape[-2:], like=fmap0)
        coords1 = coords0
        if flow_init is not None:
            start = resize_flow(flow_init, fmap0.shape[-2:])
            coords1 = coords1 + start + start  # added before the loop and again in the first iteration
        prepared = self.update_block.gru.prepare(context)
        for _ in range(self.iters):
            hidden, delta = self.update_block(hidden, prepared, corr(coords1), coords1 - coords0)
            coords1 = coords1 + delta  # eq. 8: f^(t+1) = f^(t) + delta f^(t)

        flow = convex_upsample(coords1 - coords0, self.update_block.upsample_mask(hidden))
        flow = torch.cat([flow[:, :1] / width8 * width, flow[:, 1:] / height8 * height], dim=1)
        return F.interpolate(flow, size=(height, width), mode="bilinear", align_corners=False)
