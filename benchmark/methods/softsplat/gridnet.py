"""SoftSplat's synthesis GridNet (Fourure et al. 2017; Niklaus & Liu 2020): three rows of 32, 64 and
96 channels at full, 1/2 and 1/4 resolution and six columns. Each row takes the splatted frames
and features of its resolution; in the first three columns information also flows down the rows
(downsampling blocks), in the last three back up (upsampling blocks); lateral blocks between
columns are residual. The top row's last column becomes the frame."""

from __future__ import annotations

import torch
from torch import nn

from atdkit.benchmark.layers.grid_blocks import downsample_block, residual_block, upsample_block

ROWS = (32, 64, 96)
COLUMNS = 6


class GridNet(nn.Module):
    def __init__(self, in_channels: tuple[int, int, int], out_channels: int = 3):
        super().__init__()
        rows = range(len(ROWS))
        self.heads = nn.ModuleList(residual_block(inputs, channels) for inputs, channels in zip(in_channels, ROWS))
        self.lateral = nn.ModuleList(
            nn.ModuleList(residual_block(ROWS[row], ROWS[row]) for _ in range(COLUMNS - 1)) for row in rows
        )
        self.down = nn.ModuleList(
            nn.ModuleList(downsample_block(ROWS[row], ROWS[row + 1]) for row in rows[:-1]) for _ in range(COLUMNS // 2)
        )
        self.up = nn.ModuleList(
            nn.ModuleList(upsample_block(ROWS[row + 1], ROWS[row]) for row in rows[:-1]) for _ in range(COLUMNS // 2)
        )
        self.tail = residual_block(ROWS[0], out_channels)

    def forward(self, inputs: list[torch.Tensor]) -> torch.Tensor:
        """``inputs``: one tensor per row (full, 1/2, 1/4 resolution; sides divisible by 4 at full)."""
        grid = []
        for row, tensor in enumerate(inputs):  # column 0: the inputs enter, and flow down
            grid.append(self.heads[row](tensor) + (self.down[0][row - 1](grid[-1]) if row else 0))
        for column in range(1, COLUMNS):
            grid = [node + lateral[column - 1](node) for node, lateral in zip(grid, self.lateral)]
            if column < COLUMNS // 2:
                for row in range(1, len(ROWS)):
                    grid[row] = grid[row] + self.down[column][row - 1](grid[row - 1])
            else:
                for row in range(len(ROWS) - 2, -1, -1):
                    grid[row] = grid[row] + self.up[column - COLUMNS // 2][row](grid[row + 1])
        return self.tail(grid[0])
