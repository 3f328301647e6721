"""AdaCoF (Lee et al., "AdaCoF: Adaptive Collaboration of Flows for Video Frame Interpolation",
CVPR 2020) for the frame half-way between two others.

A U-Net (``kernels``) estimates, for every output pixel and each input frame, F x F kernel
weights and as many offset vectors; each frame is warped by the AdaCoF operation (``warp``):
a weighted sum of F x F samples at the dilated kernel positions moved by the offsets; the two
warped frames are blended by the estimated occlusion map V:

    I_out = V * AdaCoF(I_0) + (1 - V) * AdaCoF(I_1)

As the release (github.com/HyeongminLEE/AdaCoF-pytorch, ``models/adacofnet.py``) runs it:

- the frames are RGB in [0, 1]; the kernel estimation sees them minus the channel means
  (0.4631, 0.4352, 0.3990) of its ``utility.moduleNormalize`` (std 1), the warps see them as they are;
- each frame is replicate-padded by (F-1) d / 2 px on every side before its warp, so that tap
  (k, l) of pixel (i, j) starts at (i + (k - (F-1)/2) d, j + (l - (F-1)/2) d) of the frame;
- heights and widths are multiples of 32 (the U-Net pools five times); the release pads the
  frames itself (reflection, bottom and right) and crops the output back: here the benchmark's
  ``Padding(32, "reflect")`` does exactly that, and this forward refuses other sizes;
- the output is not clamped (the release's ``save_image`` clamps to [0, 1] when writing).

Its training-mode extras (the smoothness terms of the offsets and of the occlusion map, weighted
0.01 and 0.005 in its loss) are not computed: ``atdkit train`` trains on the L1 loss of the frame.
"""

from __future__ import annotations

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
from atdkit.benchmark.methods.adacof.kernels import KernelEstimation
from atdkit.benchmark.methods.adacof.warp import adacof

WEIGHTS_KEY = "adacof"  # the method's weight file, which an atdkit train checkpoint stands in for
MEAN = (0.4631, 0.4352, 0.3990)  # subtracted from the frames the kernel estimation sees
RELEASED = "an AdaCoF F=5 D=1 checkpoint (checkpoint/kernelsize_5/ckpt.pth of HyeongminLEE/AdaCoF-pytorch)"


class AdaCoFNet(nn.Module):
    def __init__(self, kernel_size: int = 5, dilation: int = 1):
        super().__init__()
        self.kernel_size, self.dilation = kernel_size, dilation
        self.get_kernel = KernelEstimation(kernel_size)  # the release's name: its keys start with it

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: str | torch.device = "cpu") -> AdaCoFNet:
        """The F=5, D=1 network with the weights of ``path``, loaded strictly, in eval mode on ``device``:
        the release's ``ckpt.pth`` (``{'epoch', 'state_dict'}``) or a checkpoint written by
        ``atdkit train`` for this network (``model_state_dict``).

        Raises CheckpointError (one line naming the file and the problem) for a missing, damaged or
        foreign file, or one that would run code when unpickled.
        """
        loaded = read_tensors(path)
        trained = training_for(loaded, path, WEIGHTS_KEY, "an AdaCoF network")
        if trained is None and not (isinstance(loaded, dict) and "state_dict" in loaded):
            raise CheckpointError(f"{path}: not {RELEASED}: it has no state_dict entry")
        state = state_dict_of(loaded, path, "model_state_dict" if trained is not None else "state_dict")
        network = cls()
        check_layout(state, layout_of(network), path, "an AdaCoF network" if trained is not None else RELEASED)
        network.load_state_dict(state, strict=True)
        return network.to(device).eval()

    def forward(self, frame0: torch.Tensor, frame2: torch.Tensor, flows=None) -> torch.Tensor:
        """The middle frame (B, 3, H, W, unclamped) of RGB frames (B, 3, H, W) in [0, 1]; H and W
        multiples of 32. ``flows`` (precomputed flows) are not used."""
        height, width = frame0.shape[-2:]
        if height % 32 or width % 32:
            raise ValueError(
                f"AdaCoF needs a height and width divisible by 32, got {width}x{height}: pad or resize the frames"
            )
        mean = torch.tensor(MEAN, dtype=frame0.dtype, device=frame0.device).view(1, 3, 1, 1)
        weight0, alpha0, beta0, weight2, alpha2, beta2, occlusion = self.get_kernel(frame0 - mean, frame2 - mean)
        pad = (self.kernel_size - 1) * self.dilation // 2
        warped0 = adacof(F.pad(frame0, [pad] * 4, mode="replicate"), weight0, alpha0, beta0, self.dilation)
        warped2 = adacof(F.pad(frame2, [pad] * 4, mode="replicate"), weight2, alpha2, beta2, self.dilation)
        return occlusion * warped0 + (1 - occlusion) * warped2
