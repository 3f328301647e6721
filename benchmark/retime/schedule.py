"""Where each output frame falls between the drawings: output times on a grid, input drawings at their frames.

Input frame i stands at time i (in input frames; decoded-frame numbers, as extraction counts them,
so a constant frame rate is assumed); output frame j at j * ratio, ratio = input rate / output
rate (1/N for ``--factor N``). A drawing first shown at frame a and followed, in the same shot, by
the drawing first shown at frame b covers [a, b): output frame j there is the method's frame at
t = (j ratio - a) / (b - a) between the two drawings, or the drawing itself when t = 0. The last
drawing of a shot covers up to the cut (or the film's end) and is held: its frames are copies.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction


@dataclass(frozen=True)
class Step:
    """Output frame ``index``: drawing ``key`` (an input frame number) if ``next_key`` is None, else the frame at
    ``t`` between drawings ``key`` and ``next_key``."""

    index: int
    key: int
    next_key: int | None = None
    t: float = 0.0


@dataclass(frozen=True)
class Grid:
    ratio: Fraction  # input frames per output frame

    def total(self, input_frames: int) -> int:
        """Output frames for a film of ``input_frames``: the same duration, to the nearest output frame."""
        return max(1, round(input_frames / self.ratio))

    def between(self, start: Fraction | int, stop: Fraction | int) -> range:
        """Output frames whose time lies in [start, stop)."""
        return range(math.ceil(start / self.ratio), math.ceil(stop / self.ratio))

    def steps(self, key: int, next_key: int | None, stop: Fraction | int) -> list[Step]:
        """The output frames of a drawing first shown at ``key``, covering [key, stop); ``next_key``: the next
        drawing of the shot (then ``stop`` = ``next_key``), or None for the shot's last drawing, held."""
        steps = []
        for index in self.between(key, stop):
            offset = index * self.ratio - key
            if next_key is None or offset == 0:
                steps.append(Step(index, key))
            else:
                steps.append(Step(index, key, next_key, float(offset / (next_key - key))))
        return steps
