"""GMFSS union, the other model of GMFSS_Fortuna (``model/GMFSS_infer_u.py``, what ``inference_video.py
--union`` runs): GMFSS whose fusion also sees RIFE's frame.

Motion as the base model's; at t, RIFE 4.6's IFNet (the release's ``rife.pkl``, scales 8, 4, 2, 1)
interpolates the half-resolution frames at the same t, and the fusion GridNet (``FusionNet_u``) takes
[frame 0 splatted, RIFE's frame, frame 1 splatted] (9 channels) in place of the base's four frames, with
the same splatted features. The weights: five files of one folder, the base's four names (its own
fusionnet.pkl) and rife.pkl, loaded strictly.
"""

from __future__ import annotations

from pathlib import Path

import torch

from atdkit.benchmark.methods.gmfss.fusion import UnionFusionNet
from atdkit.benchmark.methods.gmfss.model import FILES, GMFSS, UNION_ONLY, Motion
from atdkit.benchmark.methods.rife.v4_6 import IFNet

UNION_FILES = {
    **FILES,
    "fusionnet": ("fusionnet.pkl", "GMFSS union's fusionnet.pkl (FusionNet_u.GridNet)"),
    "ifnet": (UNION_ONLY, "GMFSS union's rife.pkl (RIFE 4.6's IFNet_HDv3)"),
}


class GMFSSUnion(GMFSS):
    release = "GMFSS_Fortuna's union release"
    files = UNION_FILES

    def __init__(self):
        super().__init__()
        self.fusionnet = UnionFusionNet()
        self.ifnet = IFNet()

    @classmethod
    def hint(cls, folder: Path, missing=()) -> str:
        """A folder without rife.pkl looks like the base release."""
        base = UNION_ONLY in missing
        return f"; without {UNION_ONLY} it looks like the base release (--weights gmfss=FOLDER)" if base else ""

    def fusion_frames(self, motion: Motion, frame0t, frame1t, t) -> torch.Tensor:
        """[frame 0 splatted, RIFE's frame at t from the half-resolution frames, frame 1 splatted]."""
        rife = self.ifnet(*motion.frames, t)
        return torch.cat([frame0t, rife, frame1t], dim=1)
