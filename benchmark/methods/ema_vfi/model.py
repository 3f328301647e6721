"""EMA-VFI (Zhang et al., "Extracting Motion and Appearance via Inter-Frame Attention for Efficient
Video Frame Interpolation", CVPR 2023): the whole network (the official ``MultiScaleFlow`` around
its ``MotionFormer`` backbone), both released sizes, strict loading of the released ``ckpt/*.pkl``.

The frame at time t: features of both frames (``feature_extractor``); two flow heads, 1/16 then
1/8, estimate the flows t->0, t->1 and a mask (the second adds residuals, given the frames warped
by the first's flows); the blend ``M * warp(I0) + (1 - M) * warp(I1)`` (M = sigmoid of the mask)
plus the U-Net's residual, clamped to [0, 1].

Sizes (the official ``config.init_model_config``): ``ours_t`` F=32, depths 2, 2, 2, 4, 4;
``ours_small_t`` F=16, depths 2, 2, 2, 2, 2; both 7x7 windows. Stage channels F..16F, motion
channels per block 8F / depth (1/8) and 16F / depth (1/16), heads 8F/32 and 16F/32, MLP ratio 4,
flow heads 4F wide, U-Net c = 2F.

The released files are ``net.state_dict()`` of the DistributedDataParallel-wrapped network (the
official ``Model.load_model`` keeps only keys containing ``module.``, then strips it). It also
drops the ``attn_mask``/``HW`` buffers the shifted blocks register during a forward pass, which a
file saved after one holds (shapes depend on the size last run in training); so does this loader,
for the shifted blocks' names only, and nothing else is tolerated. The fixed-timestep ``ours.pkl`` and
``ours_small.pkl`` have the same layouts as ``ours_t.pkl`` and ``ours_small_t.pkl``: a file cannot tell
which it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from atdkit.benchmark.checkpoint import CheckpointError, check_layout, layout_of, read_tensors, state_dict_of
from atdkit.benchmark.methods.ema_vfi.feature_extractor import FeatureExtractor
from atdkit.benchmark.methods.ema_vfi.flow_estimation import FlowHead
from atdkit.benchmark.methods.ema_vfi.refine import RefineUNet
from atdkit.benchmark.methods.ema_vfi.warp import warp


@dataclass(frozen=True)
class Release:
    name: str  # the released file's stem
    method: str  # the benchmark method that runs it
    channels: int  # F of the official config: the first stage's channels
    depths: tuple[int, int, int, int, int]
    window: int = 7

    @property
    def dims(self) -> list[int]:
        return [self.channels * 2**i for i in range(5)]

    @property
    def motion_dims(self) -> list[int]:
        return [0, 0, 0, 8 * self.channels // self.depths[3], 16 * self.channels // self.depths[4]]

    @property
    def heads(self) -> list[int]:
        return [8 * self.channels // 32, 16 * self.channels // 32]

    def shifted_buffers(self) -> tuple[str, ...]:
        """The size-dependent buffers the official shifted blocks leave in a saved state dict."""
        return tuple(
            f"feature_bone.block{stage}.{j}.{buffer}"
            for stage in (4, 5)
            for j in range(1, self.depths[stage - 1], 2)
            for buffer in ("attn_mask", "HW")
        )


OURS_T = Release("ours_t", "ema-vfi", 32, (2, 2, 2, 4, 4))
OURS_SMALL_T = Release("ours_small_t", "ema-vfi-small", 16, (2, 2, 2, 2, 2))
RELEASES = (OURS_T, OURS_SMALL_T)


def release_of(state: dict[str, torch.Tensor]) -> Release | None:
    """The release whose F and attention depths ``state`` has, if any."""
    first = state.get("feature_bone.block1.conv.0.weight")
    depths = [len({key.split(".")[2] for key in state if key.startswith(f"feature_bone.block{i}.")}) for i in (4, 5)]
    for release in RELEASES:
        if first is not None and first.shape[0] == release.channels and depths == list(release.depths[3:]):
            return release
    return None


class EMAVFI(nn.Module):
    def __init__(self, release: Release = OURS_T):
        super().__init__()
        self.release = release
        dims, motion_dims, depths = release.dims, release.motion_dims, release.depths
        self.feature_bone = FeatureExtractor(dims, motion_dims, list(depths), release.heads, release.window)
        self.block = nn.ModuleList(
            FlowHead(
                motion_dims[-1 - i] * depths[-1 - i] + dims[-1 - i], scale, 4 * release.channels, 6 if i == 0 else 17
            )
            for i, scale in enumerate((16, 8))
        )
        self.unet = RefineUNet(2 * release.channels)

    @classmethod
    def from_checkpoint(cls, path: str | Path, release: Release = OURS_T, device: str | torch.device = "cpu") -> EMAVFI:
        """The network with the weights of a released ``ckpt/{release.name}.pkl`` (keys with or without
        ``module.``), loaded strictly, in eval mode on ``device``; CheckpointError (one line naming the file)
        otherwise."""
        state = state_dict_of(read_tensors(path), path)
        model = cls(release)
        what = f"EMA-VFI's {release.name}.pkl (F={release.channels}, depths {', '.join(map(str, release.depths))})"
        found = release_of(state)
        if found is not None and found != release:
            raise CheckpointError(
                f"{path}: not {what}: it looks like {found.name}.pkl (F={found.channels}), method {found.method}"
            )
        buffers = release.shifted_buffers()
        check_layout(state, layout_of(model), path, what, ignore=buffers)
        model.load_state_dict({key: value for key, value in state.items() if key not in buffers})
        return model.to(device).eval()

    def forward(
        self, frame0: torch.Tensor, frame1: torch.Tensor, t: float | torch.Tensor = 0.5
    ) -> tuple[torch.Tensor, list[torch.Tensor], torch.Tensor]:
        """The frame at ``t`` (a float or a (B,) tensor) between ``frame0`` and ``frame1`` (B, 3, H, W in [0, 1],
        H and W multiples of 32; the official scripts feed BGR), clamped to [0, 1]; the flows t->0, t->1 after
        each head (B, 4, H, W, px) and the final mask logit (B, 1, H, W)."""
        height, width = frame0.shape[-2:]
        if height % 32 or width % 32:
            raise ValueError(f"EMA-VFI needs a height and width divisible by 32, got {width}x{height}: pad the frames")
        batch = frame0.shape[0]
        t = torch.as_tensor(t, dtype=torch.float32, device=frame0.device).reshape(-1, 1, 1, 1)
        appearance, motion = self.feature_bone(frame0, frame1)
        flows, flow, mask = [], None, None
        warped0, warped1 = frame0, frame1
        for head, level in zip(self.block, (-1, -2)):
            m, a = motion[level], appearance[level]  # frame0's first, frame1's after; motion scaled by t, 1 - t
            features = torch.cat([t * m[:batch], (1 - t) * m[batch:], a[:batch], a[batch:]], 1)
            if flow is None:
                flow, mask = head(features, torch.cat([frame0, frame1], 1), None)
            else:
                images = torch.cat([frame0, frame1, warped0, warped1, mask], 1)
                flow_residual, mask_residual = head(features, images, flow)
                flow, mask = flow + flow_residual, mask + mask_residual
            flows.append(flow)
            warped0, warped1 = warp(frame0, flow[:, :2]), warp(frame1, flow[:, 2:4])
        context0, context1 = [], []
        level_flow = flow
        for features in appearance:  # each stage's features warped to t, the flows halved per stage
            context0.append(warp(features[:batch], level_flow[:, :2]))
            context1.append(warp(features[batch:], level_flow[:, 2:4]))
            level_flow = F.interpolate(level_flow, scale_factor=0.5, mode="bilinear", align_corners=False) * 0.5
        residual = self.unet(torch.cat([frame0, frame1, warped0, warped1, mask, flow], 1), context0, context1)
        weight = torch.sigmoid(mask)
        blended = warped0 * weight + warped1 * (1 - weight)
        return torch.clamp(blended + residual[:, :3] * 2 - 1, 0, 1), flows, mask
