"""Reading films frame by frame, behind one small interface with interchangeable backends.

A :class:`VideoStream` yields :class:`DecodedFrame` objects in decoding order: index n is
the n-th decoded frame (no seeking, so no drift), its time comes from the stream's
timestamps (correct for variable frame rate), its luma is read straight from the decoded
picture and RGB is converted only when asked for. Damage met while decoding (a truncated
or corrupt stream) ends the iteration early and is listed in ``damage``; a file that cannot
be read as video at all raises :class:`VideoError` with a one-line reason.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

VIDEO_SUFFIXES = frozenset(".mp4 .mkv .webm .avi .mov .m4v .mpg .mpeg .ts .m2ts .flv .wmv .ogv .gif".split())
# A film is "partial" when it decodes to fewer frames than its header promised by more than this.
SHORTFALL_TOLERANCE = 0.02


class VideoError(Exception):
    """A file that cannot be read as video; the message is the one-line reason."""


@dataclass(frozen=True)
class VideoInfo:
    codec: str
    width: int
    height: int
    fps: float
    expected_frames: int | None  # from the header; None when the container does not say
    duration: float | None  # seconds, from the header


@dataclass
class DecodedFrame:
    index: int
    time: float  # seconds since the first frame
    luma: np.ndarray  # uint8 (H, W)
    _to_rgb: Callable[[], np.ndarray]

    def rgb(self) -> np.ndarray:
        """The frame as uint8 RGB (H, W, 3), converted by FFmpeg's swscale."""
        return self._to_rgb()


class VideoStream(Protocol):
    info: VideoInfo
    damage: list[str]

    def frames(self) -> Iterator[DecodedFrame]: ...

    def close(self) -> None: ...


def ffmpeg_executable() -> str:
    """The ``ffmpeg`` on PATH, else the one shipped in the imageio-ffmpeg wheel."""
    found = shutil.which("ffmpeg")
    if found:
        return found
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def _check_file(path: Path) -> None:
    if not path.exists():
        raise VideoError("no such file")
    if not path.is_file():
        raise VideoError("not a regular file")
    if path.stat().st_size == 0:
        raise VideoError("empty file (0 bytes)")


class PyAVStream:
    """FFmpeg's libraries through PyAV (the default backend)."""

    # Pixel formats whose first plane is 8-bit luma.
    _LUMA_PLANE_FORMATS = frozenset(
        "yuv420p yuvj420p yuv422p yuvj422p yuv444p yuvj444p yuv440p yuv411p yuv410p nv12 nv21 gray".split()
    )

    def __init__(self, path: Path):
        import av
        import av.logging

        _check_file(path)
        self._av = av
        av.logging.set_level(av.logging.ERROR)
        try:
            self._container = av.open(str(path))
        except av.error.FFmpegError as error:
            raise VideoError(f"not a readable video ({error.strerror or error})") from None
        streams = self._container.streams.video
        if not streams:
            kinds = sorted({s.type for s in self._container.streams}) or ["no streams"]
            self._container.close()
            raise VideoError(f"no video stream (has: {', '.join(kinds)})")
        self._stream = stream = streams[0]
        stream.thread_type = "AUTO"
        context = stream.codec_context
        if not context.width or not context.height:
            self._container.close()
            raise VideoError("video stream has no frame size (unsupported or corrupt)")
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        duration = None
        if stream.duration is not None and stream.time_base:
            duration = float(stream.duration * stream.time_base)
        elif self._container.duration:
            duration = self._container.duration / av.time_base
        fps = float(rate) if rate else 0.0
        expected = stream.frames or (round(duration * fps) if duration and fps else None)
        self.info = VideoInfo(context.name, context.width, context.height, fps, expected or None, duration)
        self.damage: list[str] = []

    def _luma(self, frame) -> np.ndarray:
        if frame.format.name in self._LUMA_PLANE_FORMATS:
            plane = frame.planes[0]
            rows = np.frombuffer(plane, np.uint8).reshape(frame.height, plane.line_size)
            return rows[:, : frame.width]
        return frame.to_ndarray(format="gray")

    def frames(self) -> Iterator[DecodedFrame]:
        av = self._av
        first_pts = None
        index = 0
        with av.logging.Capture(local=False) as logs:
            try:
                for frame in self._container.decode(self._stream):
                    if frame.pts is not None and frame.time_base is not None:
                        first_pts = frame.pts if first_pts is None else first_pts
                        time = float((frame.pts - first_pts) * frame.time_base)
                    else:
                        time = index / self.info.fps if self.info.fps else float(index)
                    yield DecodedFrame(index, time, self._luma(frame), lambda f=frame: f.to_ndarray(format="rgb24"))
                    index += 1
            except av.error.FFmpegError as error:
                self.damage.append(f"decoding stopped after frame {index}: {error.strerror or error}")
        self.damage.extend(_summarise_logs(message for _, _, message in logs))
        expected = self.info.expected_frames
        if expected and index < expected * (1 - SHORTFALL_TOLERANCE):
            self.damage.append(f"decoded {index} of {expected} frames promised by the header")

    def close(self) -> None:
        """Close, also mid-film. PyAV's close holds the GIL while FFmpeg's decoding threads finish, and a thread
        that logs then waits for the GIL: a deadlock (PyAV issues 751, 909). FFmpeg's messages are not routed to
        Python while it closes."""
        logging = self._av.logging
        level = logging.get_level()
        logging.set_level(None)
        try:
            self._container.close()
        finally:
            logging.set_level(level)


class OpenCVStream:
    """OpenCV's ``VideoCapture`` (its bundled FFmpeg); luma is derived from its BGR output."""

    def __init__(self, path: Path):
        import cv2

        _check_file(path)
        self._cv2 = cv2
        self._capture = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
        if not self._capture.isOpened():
            raise VideoError("not a readable video (OpenCV could not open it)")
        width = int(self._capture.get(cv2.CAP_PROP_FRAME_WIDTH))
        height = int(self._capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
        if not width or not height:
            raise VideoError("no video stream")
        fps = float(self._capture.get(cv2.CAP_PROP_FPS) or 0.0)
        expected = int(self._capture.get(cv2.CAP_PROP_FRAME_COUNT)) or None
        fourcc = int(self._capture.get(cv2.CAP_PROP_FOURCC)).to_bytes(4, "little").decode("latin-1").strip("\0 ")
        duration = expected / fps if expected and fps else None
        self.info = VideoInfo(fourcc or "unknown", width, height, fps, expected, duration)
        self.damage: list[str] = []

    def frames(self) -> Iterator[DecodedFrame]:
        cv2 = self._cv2
        index = 0
        while True:
            ok, bgr = self._capture.read()
            if not ok:
                break
            time = self._capture.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
            luma = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
            yield DecodedFrame(index, time, luma, lambda b=bgr: cv2.cvtColor(b, cv2.COLOR_BGR2RGB))
            index += 1
        expected = self.info.expected_frames
        if expected and index < expected * (1 - SHORTFALL_TOLERANCE):
            self.damage.append(f"decoded {index} of {expected} frames promised by the header")

    def close(self) -> None:
        self._capture.release()


BACKENDS: dict[str, type] = {"pyav": PyAVStream, "opencv": OpenCVStream}


def open_video(path: str | os.PathLike, backend: str = "pyav") -> VideoStream:
    """Open ``path`` with the named backend; raises :class:`VideoError` for unreadable input."""
    return BACKENDS[backend](Path(path))


def _summarise_logs(messages) -> list[str]:
    """Distinct FFmpeg error messages, in order, each once."""
    seen: dict[str, None] = {}
    for message in messages:
        seen.setdefault(message.strip().rstrip("."), None)
    return [message for message in seen if message]


def find_videos(folder: Path) -> list[Path]:
    """Video files under ``folder`` (recursively, by suffix; hidden names such as macOS's
    ``._clip.mp4`` skipped), sorted."""
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file()
        and p.suffix.lower() in VIDEO_SUFFIXES
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )
