"""Super SloMo (Jiang et al., CVPR 2018) in pure PyTorch, loading the public port's ``SuperSloMo.ckpt``:
the U-Net (``unet``), the network at time t (``model``), the benchmark method (``method``)."""

from atdkit.benchmark.methods.superslomo.method import METHOD
from atdkit.benchmark.methods.superslomo.model import SuperSloMo

__all__ = ["METHOD", "SuperSloMo"]
