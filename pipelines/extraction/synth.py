"""A procedural cartoon clip with known ground truth: the default film of ``atdkit demo``.

Each shot has its own palette, background (a gentle gradient with a few static props) and
cast of flat-coloured, dark-outlined shapes. Drawings are held for 1, 2 or 3 frames (mostly
twos and threes), and from one drawing to the next every shape jumps further than its own
size along a curving, accelerating path that bounces off the frame's edges, never landing
where it stood in the last six frames. The design keeps the SSIM of decoded luma predictable:

- two frames of one drawing are near copies (far above the 0.95 band top);
- two drawings of one shot differ in the area the shapes leave and enter, a fixed share of
  the frame in strong contrast with the background, so their SSIM sits mid-band whatever
  their distance (up to six frames) and, nearly, whatever the analysis size;
- shots alternate light and dark backgrounds, so frames either side of a cut fall far
  below the band.

:class:`Timeline` records which drawing and shot each frame shows and how the shapes
moved, so :meth:`Timeline.in_band_candidates` is exactly what an SSIM band filter keeps.
"""

from __future__ import annotations

import colorsys
import contextlib
import json
import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path

import cv2
import ffmpeg
import numpy as np

from atdkit.store import atomic_path, write_file
from atdkit.video import ffmpeg_executable

CRF = 16  # low enough that held frames decode near-identical
PRESET = "veryfast"
SHOT_SECONDS = (2.0, 3.0)  # typical shot length; clips get at least two shots when long enough
MIN_SHOT_FRAMES = 12
HOLDS, HOLD_WEIGHTS = (1, 2, 3), (0.15, 0.45, 0.40)
CLEAR_FRAMES = 6  # a shape never lands where it was shown within this many frames
SHAPES = 3  # moving shapes per shot
MOVING_AREA = 0.07  # share of the frame they cover together
_SUBPIXEL = 4  # cv2 drawing shift: coordinates in 1/16 pixel


@dataclass(frozen=True)
class Timeline:
    """Ground truth of a synthetic clip, frame by frame."""

    seed: int
    fps: float
    width: int
    height: int
    drawing: list[int]  # id of the drawing shown; a held drawing repeats its id
    shot: list[int]  # shot number, 0, 1, ...; a scene cut is where it changes
    # per moving shape of the shot: (dx, dy) of its centre vs the previous frame, in pixels;
    # (0, 0) on held frames and on the first frame of each shot
    motion: list[list[tuple[float, float]]]

    @property
    def frame_count(self) -> int:
        return len(self.drawing)

    @property
    def cuts(self) -> list[int]:
        """First frame of each shot after the first."""
        return [i for i in range(1, self.frame_count) if self.shot[i] != self.shot[i - 1]]

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Timeline:
        data = json.loads(text)
        data["motion"] = [[(float(dx), float(dy)) for dx, dy in frame] for frame in data["motion"]]
        return cls(**data)

    def in_band_candidates(self, intervals=(0, 1, 2)) -> set[tuple[int, int]]:
        """(start, interval) of the triplets (start, start+s, start+2s), s = interval+1, whose three frames
        are three different drawings of one shot: the triplets an SSIM band filter must keep."""
        found = set()
        for interval in intervals:
            stride = interval + 1
            for start in range(self.frame_count - 2 * stride):
                frames = (start, start + stride, start + 2 * stride)
                if len({self.shot[i] for i in frames}) == 1 and len({self.drawing[i] for i in frames}) == 3:
                    found.add((start, interval))
        return found


def _colour(rng: np.random.Generator, luma: float, saturation: tuple[float, float]) -> tuple[int, int, int]:
    """A random hue whose BT.601 luma is ``luma`` (0-255): darkened, or mixed with white."""
    unit = np.array(colorsys.hsv_to_rgb(rng.uniform(), rng.uniform(*saturation), 1.0))
    unit_luma = float(unit @ (0.299, 0.587, 0.114))
    target = luma / 255
    if target <= unit_luma:
        rgb = unit * target / unit_luma
    else:
        rgb = unit + (1 - unit) * (target - unit_luma) / (1 - unit_luma)
    return tuple(int(round(c)) for c in np.clip(rgb * 255, 0, 255))


def _fixed_point(poly: np.ndarray) -> np.ndarray:
    return np.round(poly * (1 << _SUBPIXEL)).astype(np.int32)


def _draw(image: np.ndarray, poly: np.ndarray, fill, ink, thickness: int) -> None:
    points = [_fixed_point(poly)]
    cv2.fillPoly(image, points, fill, cv2.LINE_AA, _SUBPIXEL)
    cv2.polylines(image, points, True, ink, thickness, cv2.LINE_AA, _SUBPIXEL)


def _unit_shape(rng: np.random.Generator) -> np.ndarray:
    """Vertices of an ellipse, rectangle or irregular polygon of area 1, centred on 0."""
    kind = rng.integers(3)
    if kind == 0:
        angles = np.linspace(0, 2 * np.pi, 48, endpoint=False)
        poly = np.stack([rng.uniform(1.0, 1.3) * np.cos(angles), np.sin(angles)], axis=1)
    elif kind == 1:
        half = rng.uniform(1.0, 1.4)
        poly = np.array([[-half, -1], [half, -1], [half, 1], [-half, 1]], float)
    else:
        count = rng.integers(5, 8)
        angles = (rng.uniform(0, 1, count) + np.arange(count)) * 2 * np.pi / count
        poly = rng.uniform(0.85, 1.15, (count, 1)) * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    return poly / math.sqrt(cv2.contourArea(poly.astype(np.float32)))


def _clear(candidates: np.ndarray, points: np.ndarray, needed: float | np.ndarray) -> np.ndarray:
    """Per candidate: 1 when at least ``needed`` away from every point, else its shortfall as a
    share of ``needed`` (<= 0), so that any clear candidate outranks every unclear one."""
    if not len(points):
        return np.ones(len(candidates))
    share = (np.linalg.norm(candidates[:, None] - points[None], axis=2) / needed).min(axis=1)
    return np.where(share >= 1, 1.0, share - 1)


def _overlap(candidates: np.ndarray, points: np.ndarray, needed: float | np.ndarray) -> np.ndarray:
    """Per candidate, how deep it sits inside ``points``' discs of radius ``needed``: a sum of squared shares."""
    if not len(points):
        return np.zeros(len(candidates))
    depth = 1 - np.linalg.norm(candidates[:, None] - points[None], axis=2) / needed
    return (np.maximum(depth, 0) ** 2).sum(axis=1)


def _rotated(poly: np.ndarray, angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return poly @ np.array([[c, s], [-s, c]])


class _Shot:
    """One shot's look: background with props, and its cast of moving shapes."""

    def __init__(self, rng: np.random.Generator, width: int, height: int, light: bool):
        self.width, self.height = width, height
        unit = math.sqrt(width * height)
        self.thickness = max(1, round(unit / 240))
        self.ink = _colour(rng, rng.uniform(8, 22), (0.3, 0.8))
        # Light shots have dark shapes and dark shots light ones, about 1:4 in decoded luma.
        bg_luma, shape_luma = (rng.uniform(205, 225), 43) if light else (rng.uniform(28, 42), 197)
        self.background = self._background(rng, bg_luma)
        # Equal contrasting area in light and dark shots: the dark outline adds to a dark shape but
        # takes from a light one, which is grown to make up for it (factor tuned on decoded SSIM).
        weights = rng.uniform(0.8, 1.2, SHAPES)
        radii = unit * np.sqrt(MOVING_AREA / np.pi * weights / weights.sum())
        grow = 1 + (0 if light else 2 * self.thickness / radii)
        self.shapes = [_unit_shape(rng) * math.sqrt(np.pi) * r for r in radii * grow]
        self.fills = [_colour(rng, shape_luma * rng.uniform(0.9, 1.1), (0.5, 1.0)) for _ in range(SHAPES)]
        self.spins = rng.uniform(-0.6, 0.6, SHAPES)  # radians per drawing

    def _background(self, rng: np.random.Generator, luma: float) -> np.ndarray:
        w, h = self.width, self.height
        top, bottom = (np.array(_colour(rng, luma * k, (0.15, 0.5)), np.float32) for k in rng.uniform(0.93, 1.07, 2))
        angle = rng.uniform(0, 2 * np.pi)
        ramp = (np.cos(angle) * np.arange(w)[None, :] / w + np.sin(angle) * np.arange(h)[:, None] / h).astype(
            np.float32
        )
        ramp = (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1e-6)
        image = (top + (bottom - top) * ramp[..., None]).round().astype(np.uint8)
        # Props: a ground band or hill, a sun or moon, and a few blocks, all near the background's luma.
        horizon = h * rng.uniform(0.72, 0.85)
        if rng.uniform() < 0.5:
            ground = np.array(
                [[-w, horizon], [2 * w, horizon + h * rng.uniform(-0.08, 0.08)], [2 * w, 2 * h], [-w, 2 * h]]
            )
        else:
            angles = np.linspace(np.pi, 2 * np.pi, 64)
            ground = np.stack(
                [w * rng.uniform(0.2, 0.8) + w * 0.7 * np.cos(angles), 2 * h + (2 * h - horizon) * np.sin(angles)], 1
            )
        _draw(image, ground, _colour(rng, luma * rng.uniform(0.88, 0.97), (0.3, 0.7)), self.ink, self.thickness)
        radius = h * rng.uniform(0.07, 0.11)
        angles = np.linspace(0, 2 * np.pi, 64, endpoint=False)
        sun = np.stack([np.cos(angles), np.sin(angles)], 1) * radius + (w * rng.choice([0.12, 0.88]), h * 0.16)
        _draw(image, sun, _colour(rng, min(250, luma * 1.08), (0.3, 0.8)), self.ink, self.thickness)
        for _ in range(rng.integers(1, 4)):
            bw, bh = w * rng.uniform(0.05, 0.12), h * rng.uniform(0.12, 0.3)
            x = w * rng.uniform(0.05, 0.95)
            block = np.array([[x - bw, horizon - bh], [x + bw, horizon - bh], [x + bw, h + 10], [x - bw, h + 10]])
            _draw(image, block, _colour(rng, luma * rng.uniform(0.9, 1.05), (0.2, 0.6)), self.ink, self.thickness)
        return image

    def paths(self, rng: np.random.Generator, holds: list[int]) -> np.ndarray:
        """Centre of every shape in every drawing, (drawings, shapes, 2).

        Each shape steers along a curve whose turn and speed drift (arcs, accelerations) and
        bounces off the frame edges. Each next place is picked from candidates around the
        preferred one: first clear of the shape's own places of the last six frames, then clear
        of the other shapes in this drawing, then overlapping their recent places the least,
        then turning the least.
        """
        count = len(self.shapes)
        gap = 0.02 * math.sqrt(self.width * self.height)  # room for the SSIM window around edges
        radius = np.array([np.linalg.norm(s, axis=1).max() for s in self.shapes]) + self.thickness
        clear = 2 * radius + gap
        apart = radius[:, None] + radius[None, :] + gap
        low = radius[:, None] + 2 * gap
        high = np.maximum(np.array([self.width, self.height]) - low, low + 1)
        drawings = len(holds)
        first = np.cumsum([0] + holds[:-1])
        last = first + np.array(holds) - 1
        pos = np.zeros((drawings, count, 2))
        heading = rng.uniform(0, 2 * np.pi, count)
        turn = rng.uniform(-0.5, 0.5, count)
        speed = clear * rng.uniform(1.0, 1.3, count)
        turns = np.concatenate([[0.0], np.outer(np.linspace(np.pi / 12, np.pi, 12), [1, -1]).ravel()])
        offsets = np.tile(turns, 4)
        stretch = np.repeat([1.0, 1.25, 1.55, 1.9], len(turns))
        for d in range(drawings):
            for k in range(count):
                if d == 0:
                    candidates = rng.uniform(low[k], high[k], (len(offsets), 2))
                    smooth = np.zeros(len(offsets))
                else:
                    turn[k] = np.clip(turn[k] + rng.uniform(-0.3, 0.3), -0.8, 0.8)
                    speed[k] = np.clip(speed[k] * rng.uniform(0.85, 1.2), clear[k], 1.5 * clear[k])
                    angles = heading[k] + turn[k] + offsets
                    target = pos[d - 1, k] + (speed[k] * stretch)[:, None] * np.stack(
                        [np.cos(angles), np.sin(angles)], 1
                    )
                    span = high[k] - low[k]  # bounce: fold the overshoot back into the frame
                    candidates = high[k] - np.abs((target - low[k]) % (2 * span) - span)
                    smooth = 1 - np.abs(offsets) / np.pi - 0.2 * (stretch - 1)
                recent = pos[:d][last[:d] >= first[d] - CLEAR_FRAMES]
                others = np.arange(count) != k
                own = _clear(candidates, recent[:, k], clear[k])
                now = _clear(candidates, pos[d, :k], apart[k, :k])
                past = _overlap(candidates, recent[:, others].reshape(-1, 2), np.tile(apart[k, others], len(recent)))
                best = int(np.argmax(8 * own + 4 * now - 2 * past + smooth))
                pos[d, k] = candidates[best]
                if d:
                    move = pos[d, k] - pos[d - 1, k]
                    heading[k] = math.atan2(move[1], move[0])
        return pos

    def render(self, index: int, centres: np.ndarray) -> np.ndarray:
        """The shot's ``index``-th drawing, its shapes at ``centres``."""
        image = self.background.copy()
        for shape, fill, spin, centre in zip(self.shapes, self.fills, self.spins, centres):
            _draw(image, _rotated(shape, spin * index) + centre, fill, self.ink, self.thickness)
        return image


def _shot_lengths(rng: np.random.Generator, frames: int, fps: float) -> list[int]:
    wanted = max(2, round(frames / (fps * rng.uniform(*SHOT_SECONDS))))
    count = max(1, min(wanted, frames // MIN_SHOT_FRAMES))
    weights = rng.uniform(0.75, 1.25, count)
    lengths = [MIN_SHOT_FRAMES + int(x) for x in (frames - MIN_SHOT_FRAMES * count) * weights / weights.sum()]
    lengths[-1] += frames - sum(lengths)
    return lengths


def _holds(rng: np.random.Generator, frames: int) -> list[int]:
    holds: list[int] = []
    while sum(holds) < frames:
        holds.append(int(rng.choice(HOLDS, p=HOLD_WEIGHTS)))
    holds[-1] -= sum(holds) - frames
    return holds


def _encode(out: Path, width: int, height: int, fps: float, frames: Iterable[bytes]) -> None:
    """Pipe raw RGB ``frames`` (bytes) into FFmpeg's libx264, writing ``out`` atomically."""
    rate = Fraction(fps).limit_denominator(1001)
    with atomic_path(out) as tmp:
        stream = ffmpeg.input(
            "pipe:",
            format="rawvideo",
            pix_fmt="rgb24",
            s=f"{width}x{height}",
            framerate=f"{rate.numerator}/{rate.denominator}",
        )
        stream = stream.output(str(tmp), vcodec="libx264", pix_fmt="yuv420p", crf=CRF, preset=PRESET)
        stream = stream.global_args("-hide_banner", "-nostats", "-loglevel", "error").overwrite_output()
        process = stream.run_async(pipe_stdin=True, cmd=ffmpeg_executable(), quiet=True)
        try:
            for pixels in frames:
                process.stdin.write(pixels)
        except BrokenPipeError:
            pass  # FFmpeg stopped early; its exit status and message say why
        finally:
            with contextlib.suppress(BrokenPipeError):
                process.stdin.close()
            message = process.stderr.read().decode(errors="replace").strip()
            code = process.wait()
        if code != 0:
            raise RuntimeError(f"ffmpeg failed to encode {out} (exit status {code}): {message[-2000:] or 'no message'}")


def render_clip(
    out: Path, *, seed: int = 0, size: tuple[int, int] = (640, 360), seconds: float = 6.0, fps: float = 24.0
) -> Timeline:
    """Render, encode (H.264 yuv420p via ffmpeg-python) to `out`, write the timeline JSON beside it as
    `<out without suffix>.timeline.json`, and return the Timeline. Deterministic per seed."""
    out = Path(out)
    width, height = size
    if width < 16 or height < 16 or width % 2 or height % 2:
        raise ValueError(f"size must be even and at least 16x16 (H.264 yuv420p), got {width}x{height}")
    if fps <= 0 or seconds <= 0:
        raise ValueError(f"fps and seconds must be positive, got fps={fps}, seconds={seconds}")
    frame_count = round(seconds * fps)
    if frame_count < 1:
        raise ValueError(f"{seconds} s at {fps} fps is less than one frame")
    out.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    light = bool(rng.integers(2))
    plan = []  # (shot, centres per drawing, hold per drawing)
    drawing: list[int] = []
    shot_of: list[int] = []
    motion: list[list[tuple[float, float]]] = []
    for number, length in enumerate(_shot_lengths(rng, frame_count, fps)):
        shot = _Shot(rng, width, height, light=light != bool(number % 2))
        holds = _holds(rng, length)
        centres = shot.paths(rng, holds)
        plan.append((shot, centres, holds))
        for index, hold in enumerate(holds):
            step = centres[index] - centres[index - 1] if index else np.zeros_like(centres[0])
            ident = drawing[-1] + 1 if drawing else 0
            for held in range(hold):
                drawing.append(ident)
                shot_of.append(number)
                motion.append([(0.0, 0.0) if held else (float(dx), float(dy)) for dx, dy in step])

    def frames():
        for shot, centres, holds in plan:
            for index, hold in enumerate(holds):
                pixels = shot.render(index, centres[index]).tobytes()
                for _ in range(hold):
                    yield pixels

    _encode(out, width, height, fps, frames())
    timeline = Timeline(seed, float(fps), width, height, drawing, shot_of, motion)
    write_file(out.with_suffix(".timeline.json"), timeline.to_json())
    return timeline
