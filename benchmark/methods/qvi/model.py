"""QVI (Xu, Siyao, Sun, Yin and Yang, "Quadratic Video Interpolation", NeurIPS 2019) as released
(github.com/xuxy09/QVI, models/QVI.py): frames I0, I1, I2, I3 one interval apart, the frame wanted
at time t in (0, 1) between I1 and I2.

1. PWC-Net flows F1->2, F2->1 and, given the neighbours, F1->0 and F2->3 (:mod:`.pwcnet`);
2. the flows from I1 and I2 to time t: quadratic with the neighbours (eq. 3), linear without (eq. 1);
3. flow reversal (eq. 4, :mod:`.reversal`): the flows from time t back to I1 and I2;
4. adaptive flow filtering (eq. 5): a U-Net (:mod:`.unet`) sees the frames, the flows and I1, I2
   warped to t, and gives each reversed flow a residual and an offset it is resampled at (+-10 px);
5. synthesis (eq. 6): I1 and I2 warped along the refined flows, blended by a mask (a three-layer
   network on the warped frames and the U-Net's last features) and by time.

As the release's test script feeds it (demo.py, configs/test_config.py), and so this: RGB frames in
[0, 1] minus the QVI-960 channel means (0.429, 0.431, 0.397), std 1; the means added back to the
output. Its backward warping normalises positions by the width and height (2 x / W - 1) and samples
with ``grid_sample``'s default under the PyTorch 1.5.1 its README names, ``align_corners=False``:
a flow u samples the frame at x + u - 1/2 (reproduced). Any frame size of at least 32 px works
(PWC-Net resizes to a multiple of 64 inside; the U-Net follows its skip connections' sizes).

Equation numbers are the paper's (section 3); ``neighbours=None`` is the release's two-frame mode,
which its demo uses at the ends of a sequence.
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
from atdkit.benchmark.methods.qvi.pwcnet import PWCNet
from atdkit.benchmark.methods.qvi.reversal import reverse_flow
from atdkit.benchmark.methods.qvi.unet import UNet

WEIGHTS_KEY = "qvi"
MEAN = (0.429, 0.431, 0.397)  # QVI-960 channel means, subtracted from the frames (configs/test_config.py)
FILTER_REACH = 10.0  # eq. 5's resampling offsets are 10 tanh(.) px

# The released file is train.py's dict: its 'timestamp' is a datetime beside the tensors, a plain value
# rebuilt without running code (as Super SloMo's, whose train.py QVI's follows).
if hasattr(torch.serialization, "add_safe_globals"):  # PyTorch >= 2.4; older versions refuse the file
    torch.serialization.add_safe_globals([datetime.datetime])


def backwarp(image: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """``image`` (N, C, H, W) sampled along ``flow`` (N, 2, H, W, pixels) as the release's ``backwarp``:
    positions normalised by W and H, ``align_corners=False``, zeros outside (x + u - 1/2 in pixels)."""
    height, width = image.shape[-2:]
    xs = torch.arange(width, device=flow.device, dtype=flow.dtype).view(1, 1, width)
    ys = torch.arange(height, device=flow.device, dtype=flow.dtype).view(1, height, 1)
    grid = torch.stack([2 * ((xs + flow[:, 0]) / width - 0.5), 2 * ((ys + flow[:, 1]) / height - 0.5)], -1)
    return F.grid_sample(image, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


class MaskNet(nn.Module):
    """Three convolutions (5x5, 3x3, 3x3) with leaky ReLUs between: the blending mask's logits."""

    def __init__(self, in_channels: int = 3 + 3 + 32, out_channels: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 32, 5, padding=2)
        self.conv2 = nn.Conv2d(32, 16, 3, padding=1)
        self.conv3 = nn.Conv2d(16, out_channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.leaky_relu(self.conv1(x), 0.1)
        x = F.leaky_relu(self.conv2(x), 0.1)
        return self.conv3(x)


class QVI(nn.Module):
    def __init__(self):
        super().__init__()
        self.flownet = PWCNet()
        self.refinenet = UNet(3 + 3 + 3 + 3 + 2 + 2 + 2 + 2, 8)
        self.masknet = MaskNet()

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: str | torch.device = "cpu") -> QVI:
        """The network with the weights of ``path``, loaded strictly, in eval mode on ``device``: the
        released ``model.pt`` (``model_state_dict``, keys ``module.flownet.*``, ``module.refinenet.*``,
        ``module.masknet.*``) or a checkpoint ``atdkit train`` wrote for this network.

        Raises CheckpointError (one line naming the file) for a missing, damaged or foreign file, or one
        that would run code when unpickled."""
        loaded = read_tensors(path)
        training_for(loaded, path, WEIGHTS_KEY, "a QVI network")  # refuses another network's atdkit train checkpoint
        if not isinstance(loaded, dict) or "model_state_dict" not in loaded:
            raise CheckpointError(f"{path}: not a QVI checkpoint: it lacks model_state_dict")
        network = cls()
        state = state_dict_of(loaded, path, "model_state_dict")
        check_layout(state, layout_of(network), path, "a QVI network (model.pt of xuxy09/QVI)")
        network.load_state_dict(state)
        return network.to(device).eval()

    def flows_to_t(
        self, image1: torch.Tensor, image2: torch.Tensor, neighbours: tuple | None, t: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """PWC-Net's flows (one batch for all directions) and the flows from I1 and I2 to time t."""
        batch = len(image1)
        sources, targets = [image1, image2], [image2, image1]
        if neighbours is not None:
            sources, targets = sources + [image1, image2], targets + list(neighbours)
        flows = self.flownet.flow(torch.cat(sources), torch.cat(targets)).float().split(batch)
        flow12, flow21 = flows[:2]
        if neighbours is None:  # eq. 1, linear motion
            return {"flow12": flow12, "flow21": flow21, "flow1t": t * flow12, "flow2t": (1 - t) * flow21}
        flow10, flow23 = flows[2:]
        # eq. 3: f_0->t = (f_0->1 + f_0->-1) / 2 t^2 + (f_0->1 - f_0->-1) / 2 t, from I1 forward to t and
        # from I2 backward to t (time 1 - t, its "next" frame I1 and its "previous" frame I3)
        s = 1 - t
        return {
            "flow12": flow12,
            "flow21": flow21,
            "flow10": flow10,
            "flow23": flow23,
            "flow1t": (flow12 + flow10) / 2 * t**2 + (flow12 - flow10) / 2 * t,
            "flow2t": (flow21 + flow23) / 2 * s**2 + (flow21 - flow23) / 2 * s,
        }

    def forward(
        self,
        frame1: torch.Tensor,
        frame3: torch.Tensor,
        flows=None,
        t: float | torch.Tensor = 0.5,
        neighbours: tuple[torch.Tensor, torch.Tensor] | None = None,
        *,
        details: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The frame (N, 3, H, W, unclamped) at time ``t`` (a float or (N,)) between RGB frames ``frame1`` and
        ``frame3`` in [0, 1], given ``neighbours`` = (the frame before frame1, the frame after frame3) or None
        (linear motion). ``flows`` (precomputed flows) are not used. ``details``: also the flows, by name."""
        if min(frame1.shape[-2:]) < 32:
            raise ValueError(f"QVI needs frames of at least 32x32, got {frame1.shape[-1]}x{frame1.shape[-2]}")
        mean = torch.tensor(MEAN, dtype=frame1.dtype, device=frame1.device).view(1, 3, 1, 1)
        image1, image2 = frame1 - mean, frame3 - mean
        if neighbours is not None:
            neighbours = tuple(frame - mean for frame in neighbours)
        t = torch.as_tensor(t, dtype=torch.float32, device=frame1.device).reshape(-1, 1, 1, 1)
        found = self.flows_to_t(image1, image2, neighbours, t)
        # eq. 4, flow reversal: the flows from time t to I1 and to I2
        flow_t1, flow_t2 = reverse_flow(found["flow1t"]), reverse_flow(found["flow2t"])
        warped1, warped2 = backwarp(image1, flow_t1), backwarp(image2, flow_t2)
        residuals, features = self.refinenet(
            torch.cat([image1, image2, warped1, warped2, found["flow12"], found["flow21"], flow_t1, flow_t2], 1)
        )
        # eq. 5, adaptive flow filtering: each flow resampled at a learned offset, plus a learned residual
        refined_t1 = backwarp(flow_t1, FILTER_REACH * torch.tanh(residuals[:, 4:6])) + residuals[:, :2]
        refined_t2 = backwarp(flow_t2, FILTER_REACH * torch.tanh(residuals[:, 6:8])) + residuals[:, 2:4]
        warped1, warped2 = backwarp(image1, refined_t1), backwarp(image2, refined_t2)
        mask = torch.sigmoid(self.masknet(torch.cat([warped1, warped2, features], 1)))
        # eq. 6, synthesis: the mask- and time-weighted mean of both warped frames
        frame = ((1 - t) * mask * warped1 + t * (1 - mask) * warped2) / ((1 - t) * mask + t * (1 - mask))
        frame = frame + mean
        if details:
            refined = {"flow_t1": flow_t1, "flow_t2": flow_t2, "refined_t1": refined_t1, "refined_t2": refined_t2}
            return frame, {**found, **refined}
        return frame
