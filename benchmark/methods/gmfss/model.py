"""GMFSS, the base model of GMFSS_Fortuna (98mxr/GMFSS_Fortuna, ``model/GMFSS_infer_b.py``): GMFlow
flows, a learnt splatting metric, softmax splatting of frames and features, a GridNet fusion.

Two steps, as the released inference splits them (``reuse`` once per frame pair, ``inference`` per t):

- motion: feature pyramids of both full-resolution frames (1/2, 1/4, 1/8); both frames halved
  (bilinear); GMFlow's flow 0->1 and, in a second pass, 1->0 at half resolution; the metric network's
  Z0, Z1 from the half frames and both flows.
- synthesis at t: F0->t = t F0->1, F1->t = (1-t) F1->0, Z0 scaled by t and Z1 by 1-t (as released);
  softmax splatting of the half frames and the 1/2 features by them, of the 1/4 and 1/8 features by
  the flows and Z resized (bilinear; flows also scaled by 1/2 and 1/4); the fusion GridNet on
  [frame 0, splatted 0, splatted 1, frame 1] and the splatted features gives the full-resolution
  frame, clamped to [0, 1].

Frames (B, 3, H, W) are RGB in [0, 1] with H and W multiples of 64 (GMFlow's 8x8 windows at 1/4
of the half frames). The weights are four files of one folder, loaded strictly.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from atdkit.benchmark.checkpoint import CheckpointError, check_layout, layout_of, read_tensors, state_dict_of
from atdkit.benchmark.methods.gmfss.feature import FeatureNet
from atdkit.benchmark.methods.gmfss.fusion import FusionNet
from atdkit.benchmark.methods.gmfss.gmflow import GMFlow
from atdkit.benchmark.methods.gmfss.metric import MetricNet
from atdkit.benchmark.methods.gmfss.warp import softmax_splat

MULTIPLE = 64
# the release's files: the part of the network each holds, and what that part is
FILES = {
    "flownet": ("flownet.pkl", "GMFSS's flownet.pkl (GMFlow, 2 scales)"),
    "metricnet": ("metric.pkl", "GMFSS's metric.pkl (MetricNet)"),
    "feat_ext": ("feat.pkl", "GMFSS's feat.pkl (FeatureNet)"),
    "fusionnet": ("fusionnet.pkl", "GMFSS base's fusionnet.pkl (FusionNet_b.GridNet)"),
}
UNION_ONLY = "rife.pkl"  # what the union release holds beside them (its fusionnet.pkl differs too)


def resize(x: torch.Tensor, factor: float) -> torch.Tensor:
    return F.interpolate(x, scale_factor=factor, mode="bilinear", align_corners=False)


@dataclass
class Motion:
    """What the synthesis of any t needs from a frame pair (the released ``reuse``)."""

    frames: tuple[torch.Tensor, torch.Tensor]  # both frames at half resolution
    flows: tuple[torch.Tensor, torch.Tensor]  # 0->1 and 1->0 at half resolution, px
    metrics: tuple[torch.Tensor, torch.Tensor]  # Z0, Z1 at half resolution
    features: tuple[tuple[torch.Tensor, ...], tuple[torch.Tensor, ...]]  # each frame's at 1/2, 1/4, 1/8


class GMFSS(nn.Module):
    def __init__(self):
        super().__init__()
        self.flownet = GMFlow()
        self.metricnet = MetricNet()
        self.feat_ext = FeatureNet()
        self.fusionnet = FusionNet()

    release = "GMFSS_Fortuna's base release"
    files = FILES

    @classmethod
    def from_folder(cls, folder: str | Path, device: str | torch.device = "cpu") -> GMFSS:
        """The network with the weights of a release folder (``files``: flownet.pkl, metric.pkl, feat.pkl,
        fusionnet.pkl), each file loaded strictly, in eval mode on ``device``; CheckpointError (one line) otherwise."""
        folder = Path(folder)
        names = ", ".join(name for name, _ in cls.files.values())
        if not folder.is_dir():
            raise CheckpointError(f"{folder}: not a folder: GMFSS's weights are the folder of its release ({names})")
        missing = [name for name, _ in cls.files.values() if not (folder / name).is_file()]
        if missing:
            hint = cls.hint(folder, missing)
            raise CheckpointError(f"{folder}: lacks {', '.join(missing)} ({cls.release}: {names}){hint}")
        model = cls()
        for attribute, (name, what) in cls.files.items():
            part, path = getattr(model, attribute), folder / name
            state = state_dict_of(read_tensors(path), path)
            try:
                check_layout(state, layout_of(part), path, what)
            except CheckpointError as error:
                raise CheckpointError(f"{error}{cls.hint(folder)}") from None
            part.load_state_dict(state, strict=True)
        return model.to(device).eval()

    @classmethod
    def hint(cls, folder: Path, missing=()) -> str:
        """What a complete folder whose files do not fit looks like: the union release if it holds rife.pkl."""
        union = not missing and (folder / UNION_ONLY).exists()
        return f"; the folder holds {UNION_ONLY}: the union release?" if union else ""

    def motion(self, frame0: torch.Tensor, frame1: torch.Tensor) -> Motion:
        height, width = frame0.shape[-2:]
        if height % MULTIPLE or width % MULTIPLE:
            raise ValueError(f"GMFSS needs a height and width divisible by {MULTIPLE}, got {width}x{height}")
        features0, features1 = self.feat_ext(frame0), self.feat_ext(frame1)
        half0, half1 = resize(frame0, 0.5), resize(frame1, 0.5)
        flow01, flow10 = self.flownet(half0, half1), self.flownet(half1, half0)
        metrics = self.metricnet(half0, half1, flow01, flow10)
        return Motion((half0, half1), (flow01, flow10), metrics, (features0, features1))

    def synthesise(self, motion: Motion, t: float | torch.Tensor) -> torch.Tensor:
        """The frame at ``t`` (float, or (B,) tensor) in [0, 1], at full resolution."""
        if torch.is_tensor(t):
            t = t.to(motion.flows[0]).view(-1, 1, 1, 1)
        (half0, half1), (flow01, flow10), (metric0, metric1) = motion.frames, motion.flows, motion.metrics
        frame0t, features0t = splat(half0, motion.features[0], t * flow01, t * metric0)
        frame1t, features1t = splat(half1, motion.features[1], (1 - t) * flow10, (1 - t) * metric1)
        features = [torch.cat(pair, dim=1) for pair in zip(features0t, features1t)]
        return self.fusionnet(self.fusion_frames(motion, frame0t, frame1t, t), *features).clamp(0, 1)

    def fusion_frames(self, motion: Motion, frame0t, frame1t, t) -> torch.Tensor:
        """The fusion's frame channels: [frame 0, splatted 0, splatted 1, frame 1], all at half resolution."""
        half0, half1 = motion.frames
        return torch.cat([half0, frame0t, frame1t, half1], dim=1)

    def forward(self, frame0: torch.Tensor, frame1: torch.Tensor, t: float | torch.Tensor = 0.5) -> torch.Tensor:
        return self.synthesise(self.motion(frame0, frame1), t)


def splat(frame: torch.Tensor, features, flow: torch.Tensor, metric: torch.Tensor):
    """A half-resolution frame and its features (1/2, 1/4, 1/8 of the frame) softmax-splatted along ``flow``
    weighted by ``metric`` (half resolution); for the coarser features both are resized in one bilinear step
    from half resolution (two halvings would differ) and the flow scaled with them."""
    moved = []
    for level, feature in enumerate(features):
        factor = 0.5**level
        scaled = (resize(flow, factor) * factor, resize(metric, factor)) if level else (flow, metric)
        moved.append(softmax_splat(feature, *scaled))
    return softmax_splat(frame, flow, metric), moved
