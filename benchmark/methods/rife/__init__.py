"""The RIFE family in pure PyTorch, each release loading its own ``flownet.pkl`` strictly: HDv3 (v3.6,
the ECCV 2022 repository's HD model) and Practical-RIFE 4.6, 4.15, 4.22, 4.22.lite and 4.25.

Shared pieces: ``warp`` (backward warping), ``frames`` (resizing, the timestep channel), ``blocks``
(4.x's IFBlock and frame encoder). One module per network: ``hdv3``, ``v4_6`` (``IFNet``),
``v4_15`` (4.15 and later: 4.22, 4.22.lite, 4.25); ``releases`` tells the files apart; ``method`` declares the methods.
"""

from atdkit.benchmark.methods.rife.hdv3 import HDIFNet
from atdkit.benchmark.methods.rife.method import METHOD, METHODS
from atdkit.benchmark.methods.rife.releases import RELEASES
from atdkit.benchmark.methods.rife.v4_6 import IFNet
from atdkit.benchmark.methods.rife.v4_15 import FeatureIFNet

__all__ = ["METHOD", "METHODS", "RELEASES", "FeatureIFNet", "HDIFNet", "IFNet"]
