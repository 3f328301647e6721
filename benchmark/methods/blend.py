"""``blend``: the mean of the two inputs, unrounded. What interpolation without motion gives."""

from __future__ import annotations

from atdkit.benchmark.methods import Method


def load(weights, device):
    return lambda frame1, frame3, flows: (frame1 + frame3) * 0.5


METHOD = Method("blend", "mean of frame1 and frame3, unrounded", load, batch_size=16)
