"""``repeat``: the input nearest in time again, frame1 up to t = 0.5, frame3 after. The floor every method
must clear (a held drawing scores infinite PSNR); at the benchmark's t = 0.5 it returns frame1."""

from __future__ import annotations

import torch

from atdkit.benchmark.methods import Method


def load(weights, device):
    def interpolate(frame1: torch.Tensor, frame3: torch.Tensor, flows, t: float | torch.Tensor = 0.5) -> torch.Tensor:
        if not isinstance(t, torch.Tensor):
            return frame1 if t <= 0.5 else frame3
        return torch.where(t.to(frame1.device).view(-1, 1, 1, 1) <= 0.5, frame1, frame3)

    return interpolate


METHOD = Method(
    "repeat",
    "the nearer input: frame1 up to t = 0.5 (the benchmark's case), frame3 after",
    load,
    batch_size=16,
    any_timestep=True,
)
