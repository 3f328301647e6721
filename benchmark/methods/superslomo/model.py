"""Super SloMo (Jiang et al., "Super SloMo: High Quality Estimation of Multiple Intermediate
Frames for Video Interpolation", CVPR 2018) for a frame at any time t between two others (the
half-way frame by default).

A U-Net computes the flows F0->1 and F1->0; they are combined into approximate flows from
time t back to both frames (eq. 4, linear motion); a second U-Net sees the frames, those
flows and both frames warped by them, and returns flow residuals and the visibility map
V_t<-0 (a sigmoid; V_t<-1 = 1 - V_t<-0); the frame is the visibility- and time-weighted mean
of both frames backward-warped along the refined flows (eq. 1).

What the released weights expect (``SuperSloMo.ckpt`` of the public PyTorch port
avinashpaliwal/Super-SloMo, trained on Adobe240fps with PyTorch 0.4.1), and so what this does:

- the frames in [0, 1] minus the Adobe240fps channel means (0.429, 0.431, 0.397), std 1; the
  means are added back to the output (the port's scripts skip this on the CPU, a workaround
  for an old bug, not how the network was trained);
- backward warping normalises coordinates by the width and height (``2 x / W - 1``) and samples
  bilinearly with zeros outside, with the ``grid_sample`` of PyTorch 0.4.1, whose -1 and 1 were
  the centres of the corner pixels (``align_corners=True`` today): a zero flow samples the
  image at ``x (W - 1) / W``, not at ``x``. Reproduced as trained;
- heights and widths that are multiples of 32 (the U-Nets halve five times).

The checkpoint holds the two U-Nets apart: ``state_dictFC`` (flow computation, 6 -> 4 channels)
and ``state_dictAT`` (arbitrary-time flow interpolation, 20 -> 5), beside training records.
"""

from __future__ import annotations

import datetime
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from atdkit.benchmark.checkpoint import (
    CheckpointError,
    check_layout,
    layout_of,
    read_tensors,
    state_dict_of,
    training_for,
)
from atdkit.benchmark.methods.superslomo.unet import UNet

WEIGHTS_KEY = "superslomo"  # the method's weight file, which an atdkit train checkpoint stands in for
MEAN = (0.429, 0.431, 0.397)  # Adobe240fps channel means, subtracted from the frames
PARTS = {  # checkpoint key -> (this network's submodule, what it is)
    "state_dictFC": ("flow_computation", "flow computation U-Net"),
    "state_dictAT": ("flow_interpolation", "arbitrary-time flow interpolation U-Net"),
}

# The released file holds a datetime beside the tensors (train.py's 'timestamp': datetime.now()):
# a plain value, rebuilt without running code; allowed wherever weight files are read.
if hasattr(torch.serialization, "add_safe_globals"):  # PyTorch >= 2.4; older versions refuse the file
    torch.serialization.add_safe_globals([datetime.datetime])


def backward_warp(image: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """``image`` (B, C, H, W) sampled at (x + u, y + v) for each pixel, as the released weights were
    trained: coordinates normalised by W and H, corner-aligned sampling, zeros outside (module doc).
    Sampled in float32 (half-precision coordinates would be off by up to a quarter pixel)."""
    height, width = image.shape[-2:]
    flow = flow.float()
    xs = torch.arange(width, dtype=flow.dtype, device=flow.device).view(1, 1, width)
    ys = torch.arange(height, dtype=flow.dtype, device=flow.device).view(1, height, 1)
    grid = torch.stack([2 * (xs + flow[:, 0]) / width - 1, 2 * (ys + flow[:, 1]) / height - 1], dim=-1)
    warped = F.grid_sample(image.float(), grid, mode="bilinear", padding_mode="zeros", align_corners=True)
    return warped.to(image.dtype)


class SuperSloMo(nn.Module):
    def __init__(self):
        super().__init__()
        self.flow_computation = UNet(6, 4)
        self.flow_interpolation = UNet(20, 5)
        # channels-last weights make every convolution run channels-last (about 2.5x faster on
        # CPU with oneDNN, and the layout tensor cores want); the values are the same
        self.to(memory_format=torch.channels_last)

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: str | torch.device = "cpu") -> SuperSloMo:
        """The network with the weights of ``path``, loaded strictly, in eval mode on ``device``:
        the public ``SuperSloMo.ckpt`` (``state_dictFC`` and ``state_dictAT``) or a checkpoint
        written by ``atdkit train`` for this network (``model_state_dict``).

        Raises CheckpointError (one line naming the file and the problem) for a missing, damaged
        or foreign file, or one that would run code when unpickled.
        """
        loaded = read_tensors(path)
        model = cls()
        if training_for(loaded, path, WEIGHTS_KEY, "a Super SloMo network") is not None:
            state = state_dict_of(loaded, path, "model_state_dict")
            check_layout(state, layout_of(model), path, "a Super SloMo network")
        else:
            absent = [key for key in PARTS if not isinstance(loaded, dict) or key not in loaded]
            if absent:
                raise CheckpointError(f"{path}: not a Super SloMo checkpoint: it lacks {' and '.join(absent)}")
            state = {}
            for key, (part, what) in PARTS.items():
                part_state = state_dict_of(loaded[key], path)
                check_layout(
                    part_state, layout_of(getattr(model, part)), path, f"a Super SloMo checkpoint ({key}, the {what})"
                )
                state.update({f"{part}.{name}": tensor for name, tensor in part_state.items()})
        model.load_state_dict(state, strict=True)
        return model.to(device).eval()

    def forward(
        self, frame0: torch.Tensor, frame1: torch.Tensor, flows=None, t: float | torch.Tensor = 0.5
    ) -> torch.Tensor:
        """The frame at time ``t`` (a float, or one per frame, (B,)) between ``frame0`` and ``frame1``
        (B, 3, H, W, RGB in [0, 1]; H and W multiples of 32), unclamped. ``flows`` (precomputed flows)
        are not used."""
        height, width = frame0.shape[-2:]
        if height % 32 or width % 32:
            raise ValueError(
                f"Super SloMo needs a height and width divisible by 32, got {width}x{height}: pad or resize the frames"
            )
        mean = torch.tensor(MEAN, dtype=frame0.dtype, device=frame0.device).view(1, 3, 1, 1)
        image0, image1 = frame0 - mean, frame1 - mean
        flows01_10 = self.flow_computation(torch.cat([image0, image1], dim=1))
        flow01, flow10 = flows01_10[:, :2], flows01_10[:, 2:]
        if isinstance(t, torch.Tensor):  # one time per frame
            t = t.to(flow01).view(-1, 1, 1, 1)
        # eq. 4: the flows from time t to frames 0 and 1, assuming linear motion
        flow_t0 = -(1 - t) * t * flow01 + t * t * flow10
        flow_t1 = (1 - t) * (1 - t) * flow01 - t * (1 - t) * flow10
        warped0, warped1 = backward_warp(image0, flow_t0), backward_warp(image1, flow_t1)
        refined = self.flow_interpolation(
            torch.cat([image0, image1, flow01, flow10, flow_t1, flow_t0, warped1, warped0], dim=1)
        )
        flow_t0, flow_t1 = flow_t0 + refined[:, :2], flow_t1 + refined[:, 2:4]
        visible0 = torch.sigmoid(refined[:, 4:5])
        weight0, weight1 = (1 - t) * visible0, t * (1 - visible0)
        # eq. 1: the visibility- and time-weighted mean of both warped frames
        frame = (weight0 * backward_warp(image0, flow_t0) + weight1 * backward_warp(image1, flow_t1)) / (
            weight0 + weight1
        )
        return frame + mean
