"""The PWC-Net inside QVI (models/PWCNetnew.py of the release, an early copy of sniklaus/pytorch-pwc).

Same layers and tensor names as SoftSplat's PWC-Net (:mod:`..softsplat.pwcnet`, reused here), so the
same checkpoints load; two things differ, both reproduced as the release runs under its PyTorch 1.5.1:

- the frames go in as QVI gives them (RGB minus the channel means), not flipped to BGR;
- the decoders warp the second frame's features with ``grid_sample``'s default of PyTorch >= 1.3,
  ``align_corners=False``, on a grid spanning -1..1 corner to corner: a pixel x with flow u is
  sampled at (x + u) W / (W - 1) - 1/2, not at x + u (the port was written for the old default),
  and samples whose bilinear weights inside the frame sum to <= 0.999 are zeroed, the border
  pixels among them.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from atdkit.benchmark.methods.softsplat import pwcnet as port


def backwarp_inside(image: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """``image`` (N, C, H, W) sampled where the release's decoders sample it along ``flow`` (pixels), zeroed
    where the sample reaches outside the frame."""
    height, width = image.shape[-2:]
    xs = torch.linspace(-1.0, 1.0, width, device=flow.device, dtype=flow.dtype).view(1, 1, width)
    ys = torch.linspace(-1.0, 1.0, height, device=flow.device, dtype=flow.dtype).view(1, height, 1)
    grid = torch.stack([xs + flow[:, 0] / ((width - 1.0) / 2.0), ys + flow[:, 1] / ((height - 1.0) / 2.0)], -1)
    ones = image.new_ones(image.shape[0], 1, height, width)
    warped = F.grid_sample(
        torch.cat([image, ones], 1), grid, mode="bilinear", padding_mode="zeros", align_corners=False
    )
    return warped[:, :-1] * (warped[:, -1:] > 0.999).to(warped.dtype)


class Decoder(port.Decoder):
    def forward(self, first: torch.Tensor, second: torch.Tensor, above: tuple[torch.Tensor, torch.Tensor] | None):
        if above is None:
            return super().forward(first, second, above)
        flow, upfeat = self.moduleUpflow(above[0]), self.moduleUpfeat(above[1])
        volume = F.leaky_relu(port.correlation(first, backwarp_inside(second, flow * self.backwarp_scale)), 0.1)
        features = torch.cat([volume, first, flow, upfeat], 1)
        for name in port.LEVELS[:-1]:
            features = torch.cat([getattr(self, "module" + name)(features), features], 1)
        return self.moduleSix(features), features


class PWCNet(port.PWCNet):
    def __init__(self):
        super().__init__()
        for level in range(2, len(port.LEVELS) + 1):  # the release's decoders in place of the port's (same tensors)
            self.add_module("module" + port.LEVELS[level - 1], Decoder(level))

    def flow(self, first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
        """Flow first -> second (N, 2, H, W, pixels, channel 0 = x) of frames of any size as QVI feeds them:
        resized bilinearly to the next multiple of 64, the flow resized back and its displacements scaled."""
        height, width = first.shape[-2:]
        size = (math.ceil(height / port.STRIDE) * port.STRIDE, math.ceil(width / port.STRIDE) * port.STRIDE)
        first, second = (
            F.interpolate(frame, size=size, mode="bilinear", align_corners=False) for frame in (first, second)
        )
        flow = F.interpolate(self(first, second), size=(height, width), mode="bilinear", align_corners=False)
        scale = torch.tensor([width / size[1], height / size[0]], dtype=flow.dtype, device=flow.device)
        return flow * scale.view(1, 2, 1, 1)
