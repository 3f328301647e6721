"""Encoding with FFmpeg through PyAV: what the output keeps of the input, segments, and the final join.

The video is encoded with libx264 (``.mp4``, ``.mkv``, ``.mov``) or libvpx-vp9 (``.webm``) at a
constant quality (``crf``), in the input's pixel format when the encoder takes it (else
``yuv420p``), with the input's colour range, matrix, primaries and transfer tags; RGB frames are
converted with the input's matrix and range convention, as the reader converted them. Segments
are independent files of the same codec and settings, each starting on a key frame;
:func:`join` copies their packets, one after the other, into the output, and beside them the
input's audio packets, untouched (no decoding), interleaved by time.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import Interpolation

from atdkit.store import atomic_path

CODECS = {".mp4": "libx264", ".mkv": "libx264", ".mov": "libx264", ".m4v": "libx264", ".webm": "libvpx-vp9"}
FALLBACK_PIX_FMT = "yuv420p"
COLOUR_TAGS = ("color_range", "colorspace", "color_primaries", "color_trc")


class EncodingError(Exception):
    """The output cannot be written as asked; the message is the one-line reason."""


@dataclass(frozen=True)
class Source:
    """What the output keeps of the input film."""

    path: Path
    rate: Fraction  # frames per second
    width: int
    height: int
    pix_fmt: str
    colour: dict[str, int]  # COLOUR_TAGS of the video stream
    start: Fraction  # time of the first video frame, seconds (container time)
    audio: tuple[int, ...] = ()  # indices of the audio streams
    audio_codecs: tuple[str, ...] = ()


def probe(path: Path) -> Source:
    """The film's video facts and audio streams (the reader, :mod:`atdkit.video`, already opened it)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        context = stream.codec_context
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        start = stream.start_time * stream.time_base if stream.start_time is not None else 0
        audio = container.streams.audio
        return Source(
            Path(path),
            Fraction(rate) if rate else Fraction(0),
            context.width,
            context.height,
            context.pix_fmt or FALLBACK_PIX_FMT,
            {tag: int(getattr(context, tag)) for tag in COLOUR_TAGS},
            Fraction(start),
            tuple(s.index for s in audio),
            tuple(s.codec_context.name for s in audio),
        )


@dataclass(frozen=True)
class Encoding:
    codec: str
    pix_fmt: str
    rate: Fraction
    crf: int
    colour: dict[str, int] = field(default_factory=dict)

    @classmethod
    def for_output(cls, out: Path, source: Source, rate: Fraction, crf: int) -> Encoding:
        codec = CODECS.get(out.suffix.lower())
        if codec is None:
            raise EncodingError(f"{out}: write to one of {', '.join(CODECS)} (the suffix picks the container)")
        formats = {f.name for f in av.codec.Codec(codec, "w").video_formats or ()}
        pix_fmt = source.pix_fmt if source.pix_fmt in formats else FALLBACK_PIX_FMT
        return cls(codec, pix_fmt, rate, crf, dict(source.colour))

    @property
    def segment_suffix(self) -> str:
        return ".webm" if self.codec == "libvpx-vp9" else ".mp4"

    def describe(self) -> dict:
        return {"codec": self.codec, "pix_fmt": self.pix_fmt, "rate": str(self.rate), "crf": self.crf, **self.colour}


class SegmentWriter:
    """RGB frames (uint8, H x W x 3) in, one segment file out, renamed into place by :meth:`close`."""

    def __init__(self, path: Path, encoding: Encoding, width: int, height: int):
        self.encoding, self.count = encoding, 0
        self._atomic = atomic_path(path)
        temporary = self._atomic.__enter__()
        self._container = av.open(str(temporary), "w")
        options = {"crf": str(encoding.crf)}
        options.update({"preset": "medium"} if encoding.codec == "libx264" else {"b": "0", "row-mt": "1"})
        stream = self._container.add_stream(encoding.codec, rate=encoding.rate, options=options)
        stream.width, stream.height, stream.pix_fmt = width, height, encoding.pix_fmt
        stream.time_base = stream.codec_context.time_base = 1 / encoding.rate
        for tag, value in encoding.colour.items():
            setattr(stream.codec_context, tag, value)
        self._stream = stream
        # chroma averaged over each 2x2 block, exact rounding: no drift in level or colour from the frames given
        self._convert = {"format": encoding.pix_fmt, "interpolation": Interpolation.AREA | Interpolation.ACCURATE_RND}
        if encoding.colour.get("colorspace") not in (None, 2):  # 2: unspecified, swscale's default matrix
            self._convert["dst_colorspace"] = encoding.colour["colorspace"]

    def write(self, rgb: np.ndarray) -> None:
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24").reformat(**self._convert)
        frame.pts, frame.time_base = self.count, 1 / self.encoding.rate  # the muxer changes the stream's
        self._container.mux(self._stream.encode(frame))
        self.count += 1

    def close(self) -> None:
        """Flush the encoder and rename the file into place."""
        self._container.mux(self._stream.encode(None))
        self._container.close()
        self._atomic.__exit__(None, None, None)

    def abort(self) -> None:
        self._container.close()
        self._atomic.__exit__(EncodingError, EncodingError("aborted"), None)


def _video_packets(segments: list[tuple[Path, int]], rate: Fraction) -> Iterator[tuple[Fraction, int, object]]:
    """(time, order, packet) of the segments' packets, each segment shifted to start where the last ended."""
    offset = Fraction(0)
    for path, frames in segments:
        with av.open(str(path)) as container:
            for packet in container.demux(container.streams.video[0]):
                if packet.dts is None:  # the demuxer's end-of-stream packet
                    continue
                shift = round(offset / packet.time_base)
                packet.pts, packet.dts = packet.pts + shift, packet.dts + shift
                yield packet.dts * packet.time_base, 0, packet
        offset += frames / rate


def _audio_packets(
    container, start: Fraction, trimmed: tuple[Fraction, Fraction | None] | None
) -> Iterator[tuple[Fraction, int, object]]:
    """(time, order, packet) of the audio packets, shifted by ``start`` (container seconds); with ``trimmed``
    (start, stop), only those starting in it."""
    for packet in container.demux(*container.streams.audio):
        if packet.dts is None or packet.pts is None:
            continue
        at = packet.pts * packet.time_base
        if trimmed and (at < trimmed[0] or (trimmed[1] is not None and at >= trimmed[1])):
            continue
        shift = round(start / packet.time_base)
        packet.pts, packet.dts = packet.pts - shift, packet.dts - shift
        yield packet.dts * packet.time_base, 1, packet


def join(
    segments: list[tuple[Path, int]],
    source: Source,
    rate: Fraction,
    trimmed: tuple[Fraction, Fraction | None] | None,
    out: Path,
) -> None:
    """Write ``out``: the segments' video (``(path, frames)`` in order) and the input's audio packets, all of
    them or, with ``trimmed`` ((start, stop) container seconds; stop None: to the end), those starting in that
    window; the audio keeps its place against the video (shifted by the first video frame's time or the trim's
    start), through a temporary file."""
    with atomic_path(out) as temporary, av.open(str(source.path)) as film:
        try:
            with av.open(str(temporary), "w") as container, av.open(str(segments[0][0])) as first:
                video = container.add_stream_from_template(first.streams.video[0])
                audio = {s.index: container.add_stream_from_template(s) for s in film.streams.audio}
                container.start_encoding()
                merged = heapq.merge(
                    _video_packets(segments, rate),
                    _audio_packets(film, trimmed[0] if trimmed else source.start, trimmed),
                    key=lambda item: item[:2],
                )
                for _, _, packet in merged:
                    packet.stream = video if packet.stream.type == "video" else audio[packet.stream.index]
                    container.mux(packet)
        except av.error.FFmpegError as error:
            codecs = ", ".join(itertools.chain(source.audio_codecs)) or "no"
            raise EncodingError(
                f"{out}: FFmpeg cannot write a {out.suffix} file with {video_codec_name(segments)} video and {codecs} "
                f"audio copied ({error.strerror or error}); try another suffix, e.g. .mkv"
            ) from None


def video_codec_name(segments: list[tuple[Path, int]]) -> str:
    with av.open(str(segments[0][0])) as container:
        return container.streams.video[0].codec_context.name
