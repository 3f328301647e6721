"""``atdkit interpolate --video``: a whole film retimed with an interpolation method.

Animation is drawn on ones, twos and threes: a drawing is held for one, two or three frames.
Retiming finds the drawings and the scene cuts (:mod:`.keys`, with extraction's pair SSIM and
band), places every frame of the output's frame rate between the drawings either side of it at
its true time (:mod:`.schedule`) and asks the method for it; frames are never made across a
cut, where the shot's last drawing is held. The output is encoded in chunks, each a segment
file with a done-marker, so that a killed run resumes where it stopped, then joined with the
input's audio packets copied untouched (:mod:`.writer`, :mod:`.run`).
"""

from atdkit.benchmark.retime.run import RetimeError, RetimeResult, retime_video

__all__ = ["RetimeError", "RetimeResult", "retime_video"]
