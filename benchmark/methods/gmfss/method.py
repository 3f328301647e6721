"""GMFSS (GMFSS_Fortuna's base model) as a benchmark method, any timestep; not trainable here.

Fitting, as the released ``inference_video.py`` does by default (``--scale 1.0``, no ``--union``):
frames are resized (bilinear, ``align_corners=False``, no antialiasing) to the next multiple of 64 px
up in each side (960x540 becomes 960x576), and the output is resized back the same way; flows are
computed at half that resolution with no further scaling. RGB in [0, 1], no other normalisation
(GMFlow normalises by ImageNet's mean and std inside). The model clamps its output to [0, 1]; the
script's truncation to 8 bits is left to the scoring profile.

The weight key ``gmfss`` names the release's FOLDER (the ``train_log`` of the zip): it must hold
flownet.pkl, metric.pkl, feat.pkl and fusionnet.pkl, each a state dict checked strictly. ``gmfss-union``
(``inference_video.py --union``) fits frames the same way; its folder also holds rife.pkl, and its
fusionnet.pkl is the union's.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

from atdkit.benchmark.checkpoint import CheckpointError
from atdkit.benchmark.methods import Method, MethodError, WeightFile
from atdkit.benchmark.methods.gmfss.model import GMFSS, MULTIPLE
from atdkit.benchmark.methods.gmfss.union import GMFSSUnion

RELEASE = WeightFile(
    key="gmfss",
    filename="gmfss",
    source="the folder train_log/ of the 'GMFSS model' zip linked from github.com/98mxr/GMFSS_Fortuna's README "
    "(drive.google.com/file/d/1BKz8UDAPEt713IVUSZSpzpfz_Fi2Tfd_), holding flownet.pkl, metric.pkl, feat.pkl and "
    "fusionnet.pkl; name the folder: --weights gmfss=FOLDER",
    folder=True,
)
UNION_RELEASE = WeightFile(
    key="gmfss-union",
    filename="gmfss-union",
    source="the folder train_log/ of the 'union model' zip linked from github.com/98mxr/GMFSS_Fortuna's README "
    "(drive.google.com/file/d/1Mvd1GxkWf-DpfE9OPOtqRM9KNk20kLP3; or its AnimeRun fine-tune, the 'new union model', "
    "drive.google.com/file/d/1_03uH6IvetezZIaYZzacxuXu-R4TklVc), holding flownet.pkl, metric.pkl, feat.pkl, "
    "fusionnet.pkl and rife.pkl; name the folder: "
    "--weights gmfss-union=FOLDER",
    folder=True,
)


def fitted_size(height: int, width: int) -> tuple[int, int]:
    """The size the released script resizes frames to: each side up to the next multiple of 64."""
    return -(-height // MULTIPLE) * MULTIPLE, -(-width // MULTIPLE) * MULTIPLE


def resize(frames: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    if tuple(frames.shape[-2:]) == size:
        return frames
    return F.interpolate(frames, size=size, mode="bilinear", align_corners=False)


def interpolator(network: GMFSS):
    def interpolate(frame1, frame3, flows, t: float | torch.Tensor = 0.5) -> torch.Tensor:
        size = tuple(frame1.shape[-2:])
        fitted = fitted_size(*size)
        return resize(network(resize(frame1, fitted), resize(frame3, fitted), t), size)

    return interpolate


def loader(network_class: type[GMFSS], release: WeightFile):
    def load(weights: dict[str, Path], device: torch.device):
        try:
            network = network_class.from_folder(weights[release.key], device)
        except CheckpointError as error:
            raise MethodError(str(error)) from None
        return interpolator(network)

    return load


METHOD = Method(
    "gmfss",
    "GMFSS (GMFSS_Fortuna base): GMFlow flows both ways at half resolution, learnt metric, softmax splatting "
    "of frames and features, GridNet fusion; frames resized (bilinear, not antialiased) up to multiples of 64 "
    "and back, as its inference_video.py; any t",
    loader(GMFSS, RELEASE),
    weights=(RELEASE,),
    any_timestep=True,
)
UNION_METHOD = Method(
    "gmfss-union",
    "GMFSS union (GMFSS_Fortuna --union): GMFSS whose GridNet fusion also takes RIFE 4.6's frame at t from the "
    "half-resolution frames; frames resized (bilinear, not antialiased) up to multiples of 64 and back, as its "
    "inference_video.py; any t",
    loader(GMFSSUnion, UNION_RELEASE),
    weights=(UNION_RELEASE,),
    any_timestep=True,
)
