"""AdaCoF (Lee et al., CVPR 2020) in pure PyTorch, loading the release's F=5, D=1 ``ckpt.pth``:
the warping operation (``warp``), the kernel-estimation U-Net (``kernels``), the network
(``model``), the benchmark method (``method``)."""

from atdkit.benchmark.methods.adacof.method import METHOD
from atdkit.benchmark.methods.adacof.model import AdaCoFNet
from atdkit.benchmark.methods.adacof.warp import adacof

__all__ = ["METHOD", "AdaCoFNet", "adacof"]
