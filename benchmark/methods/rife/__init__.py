"""RIFE 4.6 (Practical-RIFE v4.6) in pure PyTorch, loading its ``flownet.pkl`` strictly:
the network (``ifnet``) and the benchmark method (``method``)."""

from atdkit.benchmark.methods.rife.ifnet import IFNet
from atdkit.benchmark.methods.rife.method import METHOD

__all__ = ["IFNet", "METHOD"]
