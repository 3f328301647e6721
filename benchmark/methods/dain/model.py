"""DAIN (Bao et al., "Depth-Aware Video Frame Interpolation", CVPR 2019) at t = 0.5, as its released
``networks/DAIN.py`` runs it.

1. Flows both ways by PWC-Net (flow / 20 at 1/4 resolution), times 20 x t, upsampled 4x bilinearly.
2. Log depth of both frames by the MegaDepth hourglass; inverse depth ``1e-6 + exp(-log depth)``.
3. Depth-aware flow projection (Eq. 1) of t x F_0->1 and (1-t) x F_1->0 to the flows at t back to
   each frame; holes filled when no gradient is needed (the original's rule).
4. 4x4 interpolation kernels of each frame by the kernel U-Net on both frames.
5. Adaptive warping (Eq. 4) of each frame and of its context (the context extractor's 195 channels
   and the log depth) by the projected flow and the frame's kernels; the warped frames' mean.
6. The frame synthesis network on the mean, both warped frames, both flows, both kernel maps and
   both warped contexts (437 channels) gives a residual added to the mean (Sec. 3.5).

Module names are those of ``best.pth``: ``flownets``, ``depthNet``, ``ctxNet``,
``initScaleNets_filter`` (+ ``1``, ``2``: the kernel heads) and ``rectifyNet``.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from atdkit.benchmark.checkpoint import (
    check_layout,
    layout_of,
    read_tensors,
    state_dict_of,
    training_for,
)
from atdkit.benchmark.methods.dain.adaptive_warp import adaptive_warp
from atdkit.benchmark.methods.dain.context import ContextExtractor
from atdkit.benchmark.methods.dain.hourglass import Hourglass
from atdkit.benchmark.methods.dain.kernels import FILTER_SIZE, KernelUNet, kernel_head
from atdkit.benchmark.methods.dain.projection import project_flow
from atdkit.benchmark.methods.dain.pwcnet import FLOW_SCALE, PWCDCNet
from atdkit.benchmark.methods.dain.synthesis import FrameSynthesis

WEIGHTS_KEY = "dain"
TIME = 0.5  # the released network's only timestep (DAIN.py asserts it)
CONTEXT = 3 + 3 * 64  # the context extractor's channels; the log depth is stacked on them
SYNTHESIS_INPUTS = 3 * 3 + 2 * 2 + 2 * FILTER_SIZE**2 + 2 * (CONTEXT + 1)  # 437


class DAIN(nn.Module):
    def __init__(self):
        super().__init__()
        self.initScaleNets_filter = KernelUNet(in_channels=6)
        self.initScaleNets_filter1 = kernel_head()
        self.initScaleNets_filter2 = kernel_head()
        self.ctxNet = ContextExtractor()
        self.rectifyNet = FrameSynthesis(SYNTHESIS_INPUTS)
        self.flownets = PWCDCNet()
        self.depthNet = Hourglass()

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: str | torch.device = "cpu") -> DAIN:
        """The network with the weights of DAIN's ``best.pth`` (or of an ``atdkit train`` checkpoint of this
        network: ``model_state_dict``), loaded strictly, in eval mode on ``device``; CheckpointError (one line
        naming the file) otherwise."""
        loaded = read_tensors(path)
        trained = training_for(loaded, path, WEIGHTS_KEY, "a DAIN network")
        state = state_dict_of(loaded, path, "model_state_dict" if trained else None)
        with torch.device("meta"):  # no initialisation: every tensor comes from the file
            network = cls()
        what = "a DAIN network" if trained else "DAIN's best.pth (baowenbo/DAIN)"
        check_layout(state, layout_of(network), path, what)
        network.load_state_dict(state, assign=True)
        return network.to(device).eval()

    def flow(self, first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
        """t x the flow first -> second at full resolution (pixels)."""
        return F.interpolate(
            FLOW_SCALE * self.flownets(first, second) * TIME, scale_factor=4, mode="bilinear", align_corners=False
        )

    def forward(self, frame0: torch.Tensor, frame1: torch.Tensor) -> dict[str, torch.Tensor]:
        """The middle frame of RGB frames in [0, 1] (B, 3, H, W; sides multiples of 64): ``frame`` (rectified),
        ``blend`` (the warped frames' mean), ``flows`` (t -> 0, t -> 1), ``log_depth`` (frame0, frame1)."""
        batch, _, height, width = frame0.shape
        if height % 64 or width % 64:
            raise ValueError(f"DAIN needs a height and width divisible by 64, got {width}x{height}: pad the frames")
        log_depth = self.depthNet(torch.cat([frame0, frame1], 0)).split(batch)
        contexts = [
            torch.cat([self.ctxNet(frame), depth.detach()], 1) for frame, depth in zip((frame0, frame1), log_depth)
        ]
        features = self.initScaleNets_filter(torch.cat([frame0, frame1], 1))
        kernels = [self.initScaleNets_filter1(features), self.initScaleNets_filter2(features)]
        inverse_depth = [1e-6 + 1 / torch.exp(depth) for depth in log_depth]
        flows_out = [self.flow(frame0, frame1), self.flow(frame1, frame0)]  # t x F_0->1, (1 - t) x F_1->0
        flows = [
            project_flow(flow, weight, fill=not flow.requires_grad) for flow, weight in zip(flows_out, inverse_depth)
        ]
        warped_contexts = [
            adaptive_warp(context, flow.detach(), kernel.detach())
            for context, flow, kernel in zip(contexts, flows, kernels)
        ]
        warped = [adaptive_warp(frame, flow, kernel) for frame, flow, kernel in zip((frame0, frame1), flows, kernels)]
        blend = warped[0] / 2 + warped[1] / 2
        residual = self.rectifyNet(torch.cat([blend, *warped, *flows, *kernels, *warped_contexts], 1))
        return {"frame": residual + blend, "blend": blend, "flows": flows, "log_depth": log_depth}
