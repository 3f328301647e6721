"""A film retimed in chunks that survive a kill.

The film is decoded once, in order (no seeking), and judged frame by frame (:mod:`.keys`); two
drawings are held in memory, and the one before and after them for methods that take four
frames. Output frames are grouped in chunks of ``chunk_seconds`` of output; each chunk is
encoded as a segment file of its own in ``OUT.parts/`` and then marked done
(``chunk_NNNNNN.json``, written after the segment is renamed into place). A run finding done
chunks made with the same settings (``settings.json``: input, method, weights, rates, encoding)
decodes and judges the film again (cheap) but neither interpolates nor encodes those chunks
again; with other settings it starts afresh. Once every chunk is done the segments and the
input's audio are joined into OUT (through a temporary file) and ``OUT.parts/`` is removed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

import atdkit
from atdkit.benchmark import methods as registry
from atdkit.benchmark.interpolate import Interpolation
from atdkit.benchmark.retime.keys import CUT, DRAWING, DrawingFinder
from atdkit.benchmark.retime.schedule import Grid, Step
from atdkit.benchmark.retime.writer import Encoding, EncodingError, SegmentWriter, Source, join, probe
from atdkit.pipelines.extraction.timing import hold_shares
from atdkit.store import remove, write_file
from atdkit.video import DecodedFrame, VideoError, open_video

DEFAULT_CRF = 16  # x264's near-transparent quality: in-betweens keep their flat colours and clean lines
DEFAULT_CHUNK_SECONDS = 20.0
Progress = Callable[[str, int], None]  # ("total", output frames expected) or ("advance", output frames done)


class RetimeError(ValueError):
    """A film that cannot be retimed as asked; the message is the one-line reason."""


@dataclass
class Shot:
    """One shot of the film as found: its frames, its drawings (first frames) and what the output made of it."""

    number: int
    first_frame: int
    keys: list[int] = field(default_factory=list)
    last_frame: int = -1
    generated: int = 0  # output frames the method made
    copied: int = 0  # output frames that are a drawing itself (on a drawing's time, or held before a cut)

    def row(self, rate: Fraction) -> dict:
        shares = hold_shares([b - a for a, b in zip(self.keys, [*self.keys[1:], self.last_frame + 1])])
        return {
            "shot": self.number,
            "first_frame": self.first_frame,
            "last_frame": self.last_frame,
            "start_s": round(float(self.first_frame / rate), 3) if rate else None,
            "end_s": round(float((self.last_frame + 1) / rate), 3) if rate else None,
            "drawings": len(self.keys),
            **{name: round(share, 3) for name, share in shares.items()},
            "output_frames": self.generated + self.copied,
            "generated": self.generated,
            "copied": self.copied,
        }


@dataclass
class RetimeResult:
    out: Path
    input_frames: int
    output_frames: int
    rate: Fraction
    shots: list[dict]
    resumed_chunks: int
    seconds: float
    damage: list[str]

    @property
    def cuts(self) -> int:
        return max(0, len(self.shots) - 1)


@dataclass
class _Key:
    """A drawing: its first frame's number and the frame, converted to RGB once, when needed."""

    index: int
    frame: DecodedFrame
    _rgb: np.ndarray | None = None

    def rgb(self) -> np.ndarray:
        if self._rgb is None:
            self._rgb = self.frame.rgb()
        return self._rgb


class Chunks:
    """Output frames in, segment files out, ``frames`` output frames per segment, resumable (module doc)."""

    def __init__(self, folder: Path, settings: dict, encoding: Encoding, size: tuple[int, int], frames: int):
        self.folder, self.encoding, self.size, self.frames = folder, encoding, size, frames
        stored = folder / "settings.json"
        if folder.exists() and (not stored.exists() or json.loads(stored.read_text()) != settings):
            remove(folder)  # left by a run with other settings
        folder.mkdir(parents=True, exist_ok=True)
        write_file(stored, json.dumps(settings, indent=1, sort_keys=True))
        self.done = {
            int(p.stem.split("_")[1]): json.loads(p.read_text())["frames"] for p in folder.glob("chunk_*.json")
        }
        self.resumed = len(self.done)
        self._writer: SegmentWriter | None = None
        self._number = -1

    def segment(self, number: int) -> Path:
        return self.folder / f"chunk_{number:06d}{self.encoding.segment_suffix}"

    def is_done(self, index: int) -> bool:
        return index // self.frames in self.done

    def write(self, index: int, rgb: np.ndarray) -> None:
        number = index // self.frames
        if number != self._number:
            self.close()
            self._number = number
            self._writer = SegmentWriter(self.segment(number), self.encoding, *self.size)
        self._writer.write(rgb)

    def close(self) -> None:
        """Finish the open segment and mark it done."""
        if self._writer is not None:
            self._writer.close()
            write_file(self.folder / f"chunk_{self._number:06d}.json", json.dumps({"frames": self._writer.count}))
            self.done[self._number] = self._writer.count
            self._writer = None

    def abort(self) -> None:
        if self._writer is not None:
            self._writer.abort()
            self._writer = None

    def segments(self, total: int) -> list[tuple[Path, int]]:
        count = -(-total // self.frames)
        missing = [n for n in range(count) if n not in self.done]
        if missing or sum(self.done[n] for n in range(count)) != total:
            raise RuntimeError(f"chunks {missing} of {self.folder} are missing or short of frames")
        return [(self.segment(n), self.done[n]) for n in range(count)]


def _settings(source: Source, run: Interpolation, encoding: Encoding, **values) -> dict:
    """What a chunk's frames depend on: done chunks are reused only by a run with the same."""
    stat = source.path.stat()
    return {
        "atdkit": atdkit.__version__,
        "input": {"path": str(source.path.resolve()), "bytes": stat.st_size, "mtime_ns": stat.st_mtime_ns},
        "method": run.method.name,
        "method_settings": dict(run.method.settings),
        "weights": {key: registry.sha256(path) for key, path in sorted(run.weights.items())},
        "encoding": encoding.describe(),
        **{key: str(value) if isinstance(value, Fraction) else value for key, value in values.items()},
    }


def _frames(stream, start: float, duration: float | None) -> Iterator[DecodedFrame]:
    """The decoded frames from ``start`` seconds on, for ``duration`` seconds (None: to the end), numbered from 0."""
    index = 0
    for frame in stream.frames():
        if frame.time < start - 1e-6:
            continue
        if duration is not None and frame.time >= start + duration - 1e-6:
            break
        frame.index = index
        index += 1
        yield frame


def retime_video(
    video: Path,
    out: Path,
    method_name: str,
    factor: int | None = None,
    fps: float | None = None,
    weights: dict[str, Path] | None = None,
    device: str = "auto",
    options: dict[str, object] | None = None,
    start: float = 0.0,
    duration: float | None = None,
    crf: int = DEFAULT_CRF,
    chunk_seconds: float = DEFAULT_CHUNK_SECONDS,
    progress: Progress | None = None,
) -> RetimeResult:
    """Retime ``video`` to ``factor`` times its frame rate (or to ``fps``) with the method; write ``out``.

    Raises RetimeError, MethodError or BenchError with a one-line message for input that cannot be used."""
    started = time.perf_counter()
    video, out = Path(video), Path(out)
    if (factor is None) == (fps is None):
        raise RetimeError("give one of --factor N and --fps F")
    if factor is not None and factor < 2:
        raise RetimeError(f"--factor must be at least 2, got {factor}")
    if start < 0 or (duration is not None and duration <= 0) or chunk_seconds <= 0 or not 0 <= crf <= 63:
        raise RetimeError("--start must be >= 0, --duration and --chunk-seconds > 0, --crf within 0-63")
    if out.resolve() == video.resolve():
        raise RetimeError(f"{out}: the output would overwrite the input")
    try:
        stream = open_video(video)
    except VideoError as error:
        raise RetimeError(f"{video}: {error}") from None
    try:
        return _retime(
            stream, video, out, method_name, factor, fps, weights or {}, device, options, start, duration, crf,
            chunk_seconds, progress or (lambda event, value: None), started,
        )  # fmt: skip
    except VideoError as error:
        raise RetimeError(f"{video}: {error}") from None
    except EncodingError as error:
        raise RetimeError(str(error)) from None
    finally:
        stream.close()


def _retime(
    stream, video, out, method_name, factor, fps, weights, device, options, start, duration, crf, chunk_seconds,
    progress, started,
) -> RetimeResult:  # fmt: skip
    source = probe(video)
    if not source.rate:
        raise VideoError("the video stream states no frame rate")
    rate = source.rate * factor if factor else Fraction(fps).limit_denominator(1001)
    grid = Grid(source.rate / rate)
    encoding = Encoding.for_output(out, source, rate, crf)
    run = Interpolation.load(method_name, weights, device, options, any_time="--video")
    chunk_frames = max(1, round(chunk_seconds * rate))
    settings = _settings(source, run, encoding, rate=rate, start=start, duration=duration, chunk_frames=chunk_frames)
    chunks = Chunks(out.with_name(out.name + ".parts"), settings, encoding, (source.width, source.height), chunk_frames)
    expected = stream.info.expected_frames
    if expected:
        frames = expected - round(start * source.rate)
        progress("total", grid.total(min(frames, round(duration * source.rate)) if duration else frames))
    finder = DrawingFinder(source.width, source.height)
    shots: list[Shot] = []
    # the shot's drawings not yet rendered, and the one before them (four frames for methods that take neighbours)
    keys: list[_Key] = []

    def render(steps: list[Step], before: _Key | None, key: _Key, after: _Key | None, beyond: _Key | None) -> None:
        shot = shots[-1]
        pending = [step for step in steps if not chunks.is_done(step.index)]
        made = [step for step in pending if step.next_key is not None]
        if made:
            neighbours = ((before or key).rgb(), (beyond or after).rgb()) if run.method.neighbours else None
            images = iter(run.frames(key.rgb(), after.rgb(), [s.t for s in made], neighbours=neighbours))
        for step in steps:
            if step in pending:
                chunks.write(step.index, next(images) if step.next_key is not None else key.rgb())
            progress("advance", 1)
        shot.generated += sum(step.next_key is not None for step in steps)
        shot.copied += sum(step.next_key is None for step in steps)

    def flush(final_stop: Fraction | int | None) -> None:
        """Render what the known drawings allow: every drawing but the last two (which need the next one to know
        their neighbours); with ``final_stop`` (the shot ends there) all of them."""
        while len(keys) >= 4 or (final_stop is not None and len(keys) >= 2):
            before, key, after = keys[0], keys[1], keys[2] if len(keys) > 2 else None
            beyond = keys[3] if len(keys) > 3 else None
            stop = after.index if after else final_stop
            render(grid.steps(key.index, after.index if after else None, stop), before, key, after, beyond)
            keys.pop(0)
        if final_stop is not None:
            keys.clear()

    count = 0
    try:
        for frame in _frames(stream, start, duration):
            verdict = finder(frame.luma)
            if verdict == CUT and shots:
                flush(frame.index)
                shots[-1].last_frame = frame.index - 1
            if verdict == CUT:
                shots.append(Shot(len(shots), frame.index))
                keys.append(None)  # no drawing before the shot's first
            if verdict in (CUT, DRAWING):
                shots[-1].keys.append(frame.index)
                keys.append(_Key(frame.index, frame))
                flush(None)
            count = frame.index + 1
        if not count:
            raise VideoError("no frame could be decoded" + (f" ({'; '.join(stream.damage)})" if stream.damage else ""))
        total = grid.total(count)
        flush(total * grid.ratio)
        shots[-1].last_frame = count - 1
        chunks.close()
    except BaseException:
        chunks.abort()
        raise
    trimmed = (
        (source.start + Fraction(start), None if duration is None else source.start + Fraction(start + duration))
        if start or duration
        else None
    )
    join(chunks.segments(total), source, rate, trimmed, out)
    remove(chunks.folder)
    return RetimeResult(
        out,
        count,
        total,
        rate,
        [shot.row(source.rate) for shot in shots],
        chunks.resumed,
        time.perf_counter() - started,
        list(stream.damage),
    )
