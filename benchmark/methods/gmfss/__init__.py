"""GMFSS (98mxr/GMFSS_Fortuna, base model) in pure PyTorch, loading its release folder strictly: GMFlow
(``gmflow``), the metric network (``metric``), the feature pyramid (``feature``), softmax splatting
(``warp``), the fusion GridNet (``fusion``), the whole network (``model``) and the benchmark method
(``method``)."""

from atdkit.benchmark.methods.gmfss.method import METHOD
from atdkit.benchmark.methods.gmfss.model import GMFSS

__all__ = ["GMFSS", "METHOD"]
