"""``repeat``: the first frame again. The floor every method must clear (a held drawing scores infinite PSNR)."""

from __future__ import annotations

from atdkit.benchmark.methods import Method


def load(weights, device):
    return lambda frame1, frame3, flows: frame1


METHOD = Method("repeat", "returns frame1", load, batch_size=16)
