"""The synthesis GridNet of AnimeInterp and GMFSS (Fourure et al. 2017, as SoftSplat's released code
has it, reduced to columns 0, 1, 4 and 5): three rows at full, 1/2 and 1/4 of the input resolution.

Each row's head takes what was warped at its resolution (row 0 also the frames). Column 0: the heads,
and down the rows (stride-2 blocks); column 1: lateral residual blocks, and down again; columns 4 and
5: lateral, and back up (row 2 runs two lateral steps first). The top row's last node goes through the
tail. Module names follow both releases' checkpoints: ``residual_model_<row><column>``,
``downsample_model_<row><column>``, ``upsample_model_<row><column>``, ``residual_model_head[1-3]``,
``residual_model_tail``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from atdkit.benchmark.layers.grid_blocks import downsample_block, residual_block, upsample_block


class GridNet(nn.Module):
    def __init__(
        self,
        rows: tuple[int, int, int],
        head_channels: tuple[int, int, int, int],
        tail: nn.Module,
        upsample: Callable[[int, int], nn.Module] = upsample_block,
        head_name: str = "residual_model_head",
    ):
        """``head_channels``: the frames' channels, then the warped features' at each row's resolution;
        ``head_name``: what the release calls the frames' head (GMFSS's union model: ``residual_model_head0``)."""
        super().__init__()
        self.head_name = head_name
        self.add_module(head_name, residual_block(head_channels[0], rows[0]))
        for row, inputs in enumerate(head_channels[1:], 1):
            self.add_module(f"residual_model_head{row}", residual_block(inputs, rows[row - 1]))
        for row, channels in enumerate(rows):  # in the released checkpoints' order
            for column in (1, 4, 5):
                self.add_module(f"residual_model_{row}{column}", residual_block(channels, channels))
            if row == 0:
                self.residual_model_tail = tail
        for column in (0, 1):
            for row in (1, 2):
                self.add_module(f"downsample_model_{row}{column}", downsample_block(rows[row - 1], rows[row]))
        for column in (4, 5):
            for row in (0, 1):
                self.add_module(f"upsample_model_{row}{column}", upsample(rows[row + 1], rows[row]))

    def forward(self, frames: torch.Tensor, features_full, features_half, features_quarter) -> torch.Tensor:
        # each sum is added into the block output it starts from (a new tensor; the values are the same)
        # column 0: the heads, and down the rows
        x00 = self.get_submodule(self.head_name)(frames).add_(self.residual_model_head1(features_full))
        x10 = self.downsample_model_10(x00).add_(self.residual_model_head2(features_half))
        x20 = self.downsample_model_20(x10).add_(self.residual_model_head3(features_quarter))
        # column 1: lateral, and down the rows
        x01 = self.residual_model_01(x00).add_(x00)
        x11 = self.residual_model_11(x10).add_(x10).add_(self.downsample_model_11(x01))
        x21 = self.residual_model_21(x20).add_(x20).add_(self.downsample_model_21(x11))
        # columns 4 and 5: lateral, and back up the rows (row 2 runs two lateral steps first)
        x24 = self.residual_model_24(x21).add_(x21)
        x25 = self.residual_model_25(x24).add_(x24)
        x14 = self.upsample_model_14(x24).add_(self.residual_model_14(x11).add_(x11))
        x04 = self.upsample_model_04(x14).add_(self.residual_model_04(x01).add_(x01))
        x15 = self.upsample_model_15(x25).add_(self.residual_model_15(x14).add_(x14))
        x05 = self.upsample_model_05(x15).add_(self.residual_model_05(x04).add_(x04))
        return self.residual_model_tail(x05)
