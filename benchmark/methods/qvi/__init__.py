"""QVI (Xu et al., NeurIPS 2019) in pure PyTorch, loading the authors' ``model.pt``: PWC-Net (``pwcnet``),
the flow reversal layer (``reversal``), the refinement U-Net (``unet``), the network (``model``) and the
benchmark method (``method``)."""

from atdkit.benchmark.methods.qvi.method import METHOD
from atdkit.benchmark.methods.qvi.model import QVI

__all__ = ["METHOD", "QVI"]
