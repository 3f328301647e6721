"""Differentiable image operations shared by interpolation methods (pure PyTorch, CPU and GPU)."""
from benchmark.ops.splatting import softsplat

__all__ = ["softsplat"]
