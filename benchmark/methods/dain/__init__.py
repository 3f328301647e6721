"""DAIN (Bao et al., CVPR 2019) in pure PyTorch, loading the released ``best.pth`` strictly: the flow
(``pwcnet``), depth (``hourglass``), context (``context``), kernel (``kernels``) and synthesis
(``synthesis``) networks, the CUDA layers rewritten (``projection``, ``adaptive_warp``), the whole
(``model``) and the benchmark method (``method``)."""

from atdkit.benchmark.methods.dain.method import METHOD
from atdkit.benchmark.methods.dain.model import DAIN

__all__ = ["DAIN", "METHOD"]
