"""EMA-VFI (Zhang et al., CVPR 2023) in pure PyTorch, loading its released ``ours_t.pkl`` and
``ours_small_t.pkl`` strictly: inter-frame attention (``attention``), the feature extractor
(``feature_extractor``), the flow heads (``flow_estimation``), the refinement U-Net (``refine``),
warping (``warp``), the network (``model``) and the benchmark methods (``method``)."""

from atdkit.benchmark.methods.ema_vfi.method import METHODS
from atdkit.benchmark.methods.ema_vfi.model import EMAVFI, OURS_SMALL_T, OURS_T, RELEASES, Release

__all__ = ["EMAVFI", "METHODS", "OURS_SMALL_T", "OURS_T", "RELEASES", "Release"]
