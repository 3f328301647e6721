"""RIFE 4.6 (Practical-RIFE v4.6) in pure PyTorch, loading its ``flownet.pkl`` strictly:
the network (``ifnet``) and the benchmark method (``method``)."""
from benchmark.methods.rife.ifnet import IFNet
from benchmark.methods.rife.method import METHOD

__all__ = ["IFNet", "METHOD"]
