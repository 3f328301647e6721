"""All-pairs correlation volume and its pyramid lookup (RAFT)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def bilinear_sampler(image: torch.Tensor, coords: torch.Tensor) -> torch.Tensor:
    """Sample ``image`` (B, C, H, W) at pixel coordinates ``coords`` (B, h, w, 2; x first), zeros outside.

    The official code predates ``align_corners``; its grid_sample behaved as ``align_corners=True``.
    """
    height, width = image.shape[-2:]
    # 2 x / (W - 1) - 1 and 2 y / (H - 1) - 1, in place on one tensor
    grid = (2 * coords).div_(coords.new_tensor([width - 1, height - 1])).sub_(1)
    return F.grid_sample(image, grid, align_corners=True)


class CorrBlock:
    """Dot products of every feature vector of frame 0 with every one of frame 1, pooled into
    ``num_levels`` levels; looked up in a (2r+1)^2 window around each pixel's current match."""

    def __init__(self, fmap0: torch.Tensor, fmap1: torch.Tensor, num_levels: int = 4, radius: int = 4):
        self.num_levels, self.radius = num_levels, radius
        batch, dim, height, width = fmap0.shape
        # the products divided by sqrt(dim): fmap0 divided first (exact, the same values, when
        # sqrt(dim) is a power of 2, as RAFT's 256) spares a pass over the volume
        fmap0 = fmap0 / torch.sqrt(torch.tensor(dim, dtype=fmap0.dtype))
        corr = torch.matmul(fmap0.reshape(batch, dim, -1).transpose(1, 2), fmap1.reshape(batch, dim, -1))
        corr = corr.reshape(batch * height * width, 1, height, width)
        self.pyramid = [corr]
        for _ in range(num_levels - 1):
            corr = F.avg_pool2d(corr, 2, stride=2)
            self.pyramid.append(corr)
        # The window offsets as RAFT builds them: meshgrid(dy, dx) stacked, then added to (x, y).
        # The window is square and symmetric, so this only fixes the order of the (2r+1)^2
        # channels the trained update block expects (window row i moves x, column j moves y).
        offsets = torch.linspace(-radius, radius, 2 * radius + 1, dtype=fmap0.dtype, device=fmap0.device)
        self.delta = torch.stack(torch.meshgrid(offsets, offsets, indexing="ij"), dim=-1).view(
            1, 2 * radius + 1, 2 * radius + 1, 2
        )

    def __call__(self, coords: torch.Tensor) -> torch.Tensor:
        """Correlation features (B, levels * (2r+1)^2, H, W) around ``coords`` (B, 2, H, W), channels-last."""
        batch, _, height, width = coords.shape
        centre = coords.permute(0, 2, 3, 1).reshape(batch * height * width, 1, 1, 2)
        levels = []
        for level, corr in enumerate(self.pyramid):
            sampled = bilinear_sampler(corr, centre / 2**level + self.delta)
            levels.append(sampled.view(batch, height, width, -1))
        return torch.cat(levels, dim=-1).permute(0, 3, 1, 2)
