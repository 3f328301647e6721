"""GMFlow (Xu et al., CVPR 2022) as GMFSS_Fortuna uses it: ``backbone``, ``transformer``, ``matching``
(matching and flow propagation) and ``network`` (the two-scale coarse-to-fine flow)."""

from atdkit.benchmark.methods.gmfss.gmflow.network import GMFlow

__all__ = ["GMFlow"]
