"""GMFSS (98mxr/GMFSS_Fortuna, base model) in pure PyTorch, loading its release folder strictly: GMFlow
(``gmflow``), the metric network (``metric``), the feature pyramid (``feature``), softmax splatting
(``warp``), the fusion GridNet (``fusion``), the whole network (``model``) and the benchmark method
(``method``); the union model beside it (``union``)."""

from atdkit.benchmark.methods.gmfss.method import METHOD, UNION_METHOD
from atdkit.benchmark.methods.gmfss.model import GMFSS
from atdkit.benchmark.methods.gmfss.union import GMFSSUnion

METHODS = (UNION_METHOD,)  # the registry reads METHOD, then METHODS

__all__ = ["GMFSS", "GMFSSUnion", "METHOD", "METHODS", "UNION_METHOD"]
