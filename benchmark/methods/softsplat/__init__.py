"""SoftSplat (Niklaus & Liu, CVPR 2020) in pure PyTorch: PWC-Net flows (``pwcnet``), the importance
metric (``metric``), softmax splatting (``benchmark.ops.splatting``) and GridNet synthesis (``gridnet``)."""

from atdkit.benchmark.methods.softsplat.method import METHOD, TRAINABLE
from atdkit.benchmark.methods.softsplat.model import SoftSplat
from atdkit.benchmark.methods.softsplat.pwcnet import PWCNet

__all__ = ["METHOD", "PWCNet", "SoftSplat", "TRAINABLE"]
