"""EMA-VFI's arbitrary-timestep releases as benchmark methods: ``ema-vfi`` (``ours_t``) and
``ema-vfi-small`` (``ours_small_t``); not trainable here.

Fed as the official ``demo_Nx.py`` and ``benchmark/HD_4X.py`` feed them (the scripts for the
``_t`` models at full resolution): frames in BGR order (they read them with ``cv2.imread``),
[0, 1]; padded by ``InputPadder(divisor=32)``: replicate padding split around the centre (left
and top get the smaller half), cropped back after; ``Model.multi_inference`` at ``down_scale``
1. Test-time augmentation as those scripts set it: on for ``ours_t`` (``TTA = fast_TTA = True``:
the mean of the prediction and of the prediction for both frames rotated by 180 degrees, rotated
back), off for ``ours_small_t``. Each prediction is clamped to [0, 1] by the network. ``t`` may be
any time in (0, 1), a float or one per triplet.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from atdkit.benchmark.checkpoint import CheckpointError
from atdkit.benchmark.methods import Method, MethodError, WeightFile
from atdkit.benchmark.methods.ema_vfi.model import EMAVFI, OURS_SMALL_T, OURS_T, Release

DIVISOR = 32  # InputPadder's in the official scripts
CHECKPOINTS = (
    "the ckpt folder linked from github.com/MCG-NJU/EMA-VFI's README "
    "(drive.google.com/drive/folders/16jUa3HkQ85Z5lb5gce1yoaWkP-rdCd0o, or pan.baidu.com/s/1kvxubOrCxq2Mjc6SXZSa0w "
    "code gi5j)"
)


def centred_padding(height: int, width: int) -> tuple[int, int, int, int]:
    """InputPadder's (left, right, top, bottom) to multiples of 32."""
    pad_h, pad_w = -height % DIVISOR, -width % DIVISOR
    return pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2


def interpolator(network: EMAVFI, augment: bool):
    def interpolate(frame1, frame3, flows, t=0.5):
        batch, _, height, width = frame1.shape
        left, _, top, _ = padding = centred_padding(height, width)
        frames = [F.pad(frame.flip(1), padding, mode="replicate") for frame in (frame1, frame3)]  # RGB -> BGR
        times = torch.as_tensor(t, dtype=torch.float32, device=frame1.device).reshape(-1).expand(batch)
        if augment:  # both frames rotated by 180 degrees, in the same batch (fast_TTA)
            frames = [torch.cat([frame, frame.flip(2, 3)]) for frame in frames]
            times = times.repeat(2)
        middle = network(*frames, times)[0]
        if augment:
            middle = (middle[:batch] + middle[batch:].flip(2, 3)) / 2
        return middle[..., top : top + height, left : left + width].flip(1)

    return interpolate


def method(release: Release, augment: bool, about: str) -> Method:
    weight = WeightFile(
        key=release.method, filename=f"{release.name}.pkl", source=f"ckpt/{release.name}.pkl of {CHECKPOINTS}"
    )

    def load(weights: dict, device: torch.device):
        try:
            network = EMAVFI.from_checkpoint(weights[weight.key], release, device)
        except CheckpointError as error:
            raise MethodError(str(error)) from None
        return interpolator(network, augment)

    tta = "mean with the 180-degree-rotated pair (its scripts' TTA)" if augment else "no TTA (its scripts' default)"
    summary = (
        f"EMA-VFI {release.name} (CVPR 2023, {about}): inter-frame attention features, 2 flow heads (1/16, 1/8), "
        f"refinement U-Net; BGR input, replicate padding to 32 around the centre, as its demo_Nx/HD_4X; {tta}"
    )
    return Method(release.method, summary, load, weights=(weight,), any_timestep=True)


METHODS = (
    method(OURS_T, augment=True, about="arbitrary-timestep model, F=32"),
    method(OURS_SMALL_T, augment=False, about="small arbitrary-timestep model, F=16"),
)
