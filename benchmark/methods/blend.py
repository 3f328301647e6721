"""``blend``: the time-weighted mean of the two inputs, unrounded, (1 - t) frame1 + t frame3 (the plain mean
at t = 0.5). What interpolation without motion gives."""

from __future__ import annotations

import torch

from atdkit.benchmark.methods import Method


def load(weights, device):
    def interpolate(frame1: torch.Tensor, frame3: torch.Tensor, flows, t: float | torch.Tensor = 0.5) -> torch.Tensor:
        if isinstance(t, torch.Tensor):
            t = t.to(frame1).view(-1, 1, 1, 1)
        return frame1 * (1 - t) + frame3 * t

    return interpolate


METHOD = Method(
    "blend", "(1 - t) frame1 + t frame3 (the mean at t = 0.5), unrounded", load, batch_size=16, any_timestep=True
)
