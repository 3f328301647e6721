"""SoftSplat (Niklaus & Liu, "Softmax Splatting for Video Frame Interpolation", CVPR 2020):
PWC-Net flows both ways, both frames and their feature pyramids forward-warped to time t (the
middle by default) along t F13 and (1 - t) F31 by
softmax splatting weighted by the importance metric, a GridNet fusing what was warped.

Trained end to end (PWC-Net included) with ``atdkit train``; no public weights exist.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from atdkit.benchmark.layers.feature_pyramid import FeatureExtractor
from atdkit.benchmark.methods.softsplat.gridnet import GridNet
from atdkit.benchmark.methods.softsplat.metric import ImportanceMetric
from atdkit.benchmark.methods.softsplat.pwcnet import PWCNet
from atdkit.benchmark.ops.splatting import softsplat

FEATURES = (32, 64, 96)  # the pyramid's channels at full, 1/2 and 1/4 resolution


def resize_to(tensor: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    return F.interpolate(tensor, size=size, mode="bilinear", align_corners=False)


class SoftSplat(nn.Module):
    def __init__(self, flownet: PWCNet | None = None):
        super().__init__()
        self.flownet = flownet or PWCNet()
        self.metric = ImportanceMetric()
        self.features = FeatureExtractor()
        self.synthesis = GridNet(in_channels=(2 * (3 + FEATURES[0]), 2 * FEATURES[1], 2 * FEATURES[2]))
        # channels-last weights make every convolution run channels-last (faster on the CPU with oneDNN,
        # and what tensor cores want); the values are the same
        self.to(memory_format=torch.channels_last)

    def forward(
        self, frame1: torch.Tensor, frame3: torch.Tensor, flows=None, t: float | torch.Tensor = 0.5
    ) -> torch.Tensor:
        """The frame at time ``t`` (a float, or one per frame, (N,); 0.5: the middle) between RGB frames
        (N, 3, H, W) in [0, 1], not clamped; H and W divisible by 4. ``flows`` is ignored (an interpolator's
        signature): the flows are PWC-Net's, and with the importance metric do not depend on t."""
        height, width = frame1.shape[-2:]
        if height % 4 or width % 4:
            raise ValueError(
                f"SoftSplat needs a height and width divisible by 4, got {width}x{height}: pad or resize the frames"
            )
        batch = frame1.shape[0]
        sources, targets = torch.cat([frame1, frame3]), torch.cat([frame3, frame1])  # both directions as one batch
        flow = self.flownet.flow(sources, targets)  # 1 -> 3 and 3 -> 1
        metric = self.metric(sources, targets, flow)
        full, half, quarter = self.features((sources - 0.5) / 0.5)
        t = torch.as_tensor(t).to(flow).view(-1, 1, 1, 1).expand(batch, 1, 1, 1)
        to_time = torch.cat([t, 1 - t]) * flow  # F1->t = t F13, F3->t = (1 - t) F31
        warped = [softsplat(torch.cat([sources, full], 1), to_time, metric, mode="soft")]
        for features in (half, quarter):
            size = features.shape[-2:]
            flow_at = resize_to(to_time, size) * (size[1] / width)
            warped.append(softsplat(features, flow_at, resize_to(metric, size), mode="soft"))
        return self.synthesis([torch.cat([both[:batch], both[batch:]], 1) for both in warped])
