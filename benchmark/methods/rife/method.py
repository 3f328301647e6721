"""The RIFE releases as benchmark methods (not trainable here): ``rife-hdv3``, ``rife-4.6`` (also
``rife``), ``rife-4.15``, ``rife-4.22``, ``rife-4.22-lite``, ``rife-4.25``.

Fed as each release's own ``inference_video.py`` feeds it at its default ``--scale 1.0``: frames
in RGB order (it reads videos with scikit-video and images with ``cv2.imread(...)[:, :, ::-1]``),
/255 to [0, 1]; zero padding on the right and bottom, the output cropped back:

- HDv3: megvii-research/ECCV2022-RIFE's script pads to a multiple of ``max(32, 32 / scale)`` = 32.
- 4.x: hzwer/Practical-RIFE's script pads to a multiple of ``max(128, 128 / scale)`` = 128 (so since
  2021-12-07, before 4.0; its ``inference_img.py`` pads to 64 and feeds BGR, and HolyWu/vs-rife pads
  to 32, 64 for 4.25 and 4.26, 128 for 4.25.lite: larger than each network's minimum, 4 x its
  coarsest scale).

One pass, no ensembling (the scripts' default; 4.21 and later have none). 4.x take any ``t`` (a float
or one per triplet) as the timestep channel, as ``inference_video.py --multi`` does; HDv3 makes
only the middle frame (its script reaches other times by recursive halving), so ``t`` is ignored.
"""

from __future__ import annotations

import torch

from atdkit.benchmark.checkpoint import CheckpointError
from atdkit.benchmark.methods import Method, MethodError, Padding, WeightFile
from atdkit.benchmark.methods.rife.releases import RELEASES, Release

SUMMARIES = {
    "rife-hdv3": "RIFE HDv3 (v3.6, ECCV2022-RIFE's HD model): 3 flow blocks (scales 4/2/1) run both ways "
    "and averaged, middle frame only; RGB, zero padding to 32 as its inference_video.py",
    "rife-4.6": "RIFE 4.6 (Practical-RIFE v4.6): IFNet, 4 coarse-to-fine flow blocks (scales 8/4/2/1), "
    "timestep channel, mask-blended warps; RGB, zero padding to 128 as its inference_video.py",
    "rife-4.15": "RIFE 4.15 (Practical-RIFE): 4 flow blocks (8/4/2/1) fed encoder features, timestep channel; "
    "RGB, zero padding to 128 as its inference_video.py",
    "rife-4.22": "RIFE 4.22 (Practical-RIFE): 4 flow blocks (8/4/2/1) with encoder features and features "
    "handed between blocks, timestep channel; RGB, zero padding to 128 as its inference_video.py",
    "rife-4.22-lite": "RIFE 4.22.lite (Practical-RIFE): 4.22's network, narrower; RGB, zero padding to 128 "
    "as its inference_video.py",
    "rife-4.25": "RIFE 4.25 (Practical-RIFE): 5 flow blocks (16/8/4/2/1) with encoder features and features "
    "handed between blocks, timestep channel; RGB, zero padding to 128 as its inference_video.py",
}
PADDING = {"rife-hdv3": 32}  # the others: 128


def method(release: Release) -> Method:
    weight = WeightFile(
        key=release.name,
        filename=release.filename,
        source=release.source,
        aliases=("rife",) if release.name == "rife-4.6" else (),  # the key before the family came
    )
    middle_only = release.name == "rife-hdv3"

    def load(weights: dict, device: torch.device):
        try:
            network = release.load(weights[weight.key], device)
        except CheckpointError as error:
            raise MethodError(str(error)) from None
        return lambda frame1, frame3, flows, t=0.5: network(frame1, frame3, 0.5 if middle_only else t)

    return Method(
        release.name,
        SUMMARIES[release.name],
        load,
        fit=Padding(PADDING.get(release.name, 128), mode="constant"),
        weights=(weight,),
        any_timestep=not middle_only,
        aliases=("rife",) if release.name == "rife-4.6" else (),
    )


METHODS = tuple(method(release) for release in RELEASES.values())
METHOD = next(method for method in METHODS if method.name == "rife-4.6")  # ``rife`` before the family
