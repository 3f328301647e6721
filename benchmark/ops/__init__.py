"""Differentiable image operations shared by interpolation methods (pure PyTorch, CPU and GPU)."""

from atdkit.benchmark.ops.splatting import softsplat

__all__ = ["softsplat"]
