"""How ``atdkit bench`` scores a prediction: the protocols of published ATD-12K scorers (``profiles``),
their SSIM variants (``ssim``), perceptual distances (``lpips``, ``chamfer``) and the scoring of one
triplet under a profile (``scores``)."""
