"""AnimeInterp (Li et al., CVPR 2021): refine the SGM flows with RFR, splat both frames and their
features to the middle (eq. 9) and synthesise the frame with a GridNet (section 4.3).

``AnimeInterp.from_checkpoint(path)`` loads the released ``anime_interp_full.ckpt`` strictly;
with the same weights and inputs the forward pass reproduces the official implementation.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from atdkit.benchmark.checkpoint import CheckpointError, check_layout, layout_of, read_tensors, state_dict_of
from atdkit.benchmark.layers.feature_pyramid import FeatureExtractor
from atdkit.benchmark.layers.grid_blocks import residual_block
from atdkit.benchmark.layers.gridnet import GridNet
from atdkit.benchmark.methods.animeinterp.rfr import RFR, resize_flow
from atdkit.benchmark.ops.splatting import softsplat


class AnimeInterp(nn.Module):
    def __init__(self):
        super().__init__()
        self.flownet = RFR()
        self.feat_ext = FeatureExtractor()
        self.synnet = GridNet((32, 64, 96), (6, 2 * 32, 2 * 64, 2 * 96), tail=residual_block(32, 3))
        # channels-last weights make every convolution run channels-last (about 1.5x faster on
        # CPU with oneDNN, and the layout tensor cores want); the values are the same
        self.to(memory_format=torch.channels_last)

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: str | torch.device = "cpu") -> AnimeInterp:
        """The model with the weights of ``path`` (a ``{'model_state_dict': ...}`` checkpoint or a bare
        state dict, keys with or without ``module.``), loaded strictly, in eval mode on ``device``.

        Raises CheckpointError (one line naming the file and the problem) for a missing, damaged
        or foreign file, or one that would run code when unpickled.
        """
        state = state_dict_of(read_tensors(path), path, container_key="model_state_dict")
        model = cls()
        check_layout(state, layout_of(model), path, "an AnimeInterp checkpoint")
        model.load_state_dict(state, strict=True)
        return model.to(device).eval()

    def forward(self, frame0, frame1, flow01_init=None, flow10_init=None, t: float | torch.Tensor = 0.5):
        """The frame at time ``t`` between ``frame0`` and ``frame1`` (N, 3, H, W, RGB in [0, 1]),
        and the refined flows 0 -> 1 and 1 -> 0 (N, 2, H, W, px; channel 0 = x). ``t``: a float
        or one per frame, (N,); the flows do not depend on it.

        ``flow01_init`` / ``flow10_init`` are the SGM flows (N, 2, H, W) or None (zero, the
        "w/o SGM" model). H and W must be multiples of 4 (the GridNet's two halvings); the
        frame is not clamped.
        """
        height, width = frame0.shape[-2:]
        if height % 4 or width % 4:
            raise ValueError(
                f"AnimeInterp needs a height and width divisible by 4, got {width}x{height}: pad or resize the frames"
            )
        image0, image1 = (frame0 - 0.5) / 0.5, (frame1 - 0.5) / 0.5
        flow01, flow10 = self.flownet.bidirectional(image0, image1, flow01_init, flow10_init)
        frame = self.synthesise(frame0, frame1, flow01, flow10, t)
        return frame, flow01, flow10

    def synthesise(self, frame0, frame1, flow01, flow10, t: float | torch.Tensor = 0.5) -> torch.Tensor:
        """Section 4.3: splat frames and features to time t along the flows, fuse with the GridNet."""
        return self.synnet(*self.warp_to(frame0, frame1, flow01, flow10, t))

    def warp_to(self, frame0, frame1, flow01, flow10, t: float | torch.Tensor = 0.5) -> list[torch.Tensor]:
        """The GridNet's inputs: both frames and both frames' features (full, 1/2, 1/4 resolution)
        forward-warped to time ``t`` (eq. 9: F0->t = t F01, F1->t = (1 - t) F10) by summation
        splatting, divided by the splatted bilinear weights where they are positive (holes stay 0)."""
        batch = frame0.shape[0]
        if isinstance(t, torch.Tensor):  # one time per frame
            t = t.to(flow01).view(-1, 1, 1, 1)
        frames = torch.cat([frame0, frame1]).contiguous(memory_format=torch.channels_last)  # as the features
        full, half, quarter = self.feat_ext((frames - 0.5) / 0.5)
        flows = torch.cat([t * flow01, (1 - t) * flow10])
        # 'avg' splatting: the splatted values divided by the splatted weights, holes 0;
        # the frames and the full-resolution features move along the same flow: one splat for both
        warped = softsplat(torch.cat([frames, full], dim=1), flows, mode="avg")
        warped_frames, warped_full = warped[:, :3], warped[:, 3:]
        warped_half, warped_quarter = (
            softsplat(features, resize_flow(flows, features.shape[-2:]), mode="avg") for features in (half, quarter)
        )
        pair = lambda both: torch.cat([both[:batch], both[batch:]], dim=1)  # noqa: E731
        return [pair(warped_frames), pair(warped_full), pair(warped_half), pair(warped_quarter)]


__all__ = ["AnimeInterp", "CheckpointError"]
