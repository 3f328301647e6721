"""AnimeInterp (Li et al., "Deep Animation Video Interpolation in the Wild", CVPR 2021) in pure PyTorch:
segment-guided matching (``sgm``), recurrent flow refinement (``rfr``), splatting and GridNet synthesis (``model``)."""

from atdkit.benchmark.checkpoint import CheckpointError
from atdkit.benchmark.methods.animeinterp.method import FULL as METHOD
from atdkit.benchmark.methods.animeinterp.model import AnimeInterp

__all__ = ["AnimeInterp", "CheckpointError", "METHOD"]
