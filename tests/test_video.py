import subprocess

import numpy as np
import pytest

from atdkit.video import VideoError, ffmpeg_executable, find_videos, open_video
from helpers import ffmpeg_decode, shared


def ffmpeg(*args):
    subprocess.run([ffmpeg_executable(), "-v", "error", "-y", *map(str, args)], check=True)


def decode_all(path, backend="pyav"):
    stream = open_video(path, backend)
    try:
        frames = [(f.index, f.time, f.luma.copy()) for f in stream.frames()]
    finally:
        stream.close()
    return stream, frames


def test_frames_are_exact_and_luma_is_the_decoded_plane():
    clip = shared("clips", "steamboat_willie_1928.mp4")
    stream, frames = decode_all(clip)
    reference = ffmpeg_decode(clip, "yuv420p")
    assert [i for i, _, _ in frames] == list(range(len(reference))) and len(frames) == 210
    for (_, _, luma), expected in zip(frames, reference):
        np.testing.assert_array_equal(luma, expected)
    assert stream.info.codec == "h264" and (stream.info.width, stream.info.height) == (640, 480)
    assert stream.damage == []


def test_variable_frame_rate_keeps_real_timestamps(tmp_path):
    from fractions import Fraction

    import av

    clip = tmp_path / "vfr.mkv"
    shown_at = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.7, 0.9, 1.1, 1.5]  # frames held for 1, 2 and 4 ticks
    with av.open(str(clip), "w") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 1000)
        for n, t in enumerate(shown_at):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 20 * n, np.uint8), format="rgb24")
            frame.pts, frame.time_base = round(t * 1000), Fraction(1, 1000)
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    _, frames = decode_all(clip)
    assert [t for _, t, _ in frames] == pytest.approx(shown_at, abs=1e-3)


def test_opencv_backend_reads_the_same_frames():
    clip = shared("clips", "hero_grease_pencil_twos.webm")
    _, pyav = decode_all(clip)
    _, opencv = decode_all(clip, "opencv")
    assert len(pyav) == len(opencv) == 360
    # OpenCV's luma comes from its full-range BGR output: the decoded plane, range-expanded.
    for (_, _, plane), (_, _, gray) in zip(pyav, opencv):
        expanded = np.clip((plane.astype(float) - 16) * 255 / 219, 0, 255)
        assert np.abs(expanded - gray).mean() < 2.0


def test_truncated_stream_reports_its_damage():
    stream, frames = decode_all(shared("clips", "copying_is_not_theft_truncated.mp4"))
    assert 700 < len(frames) < stream.info.expected_frames
    assert any("promised by the header" in d for d in stream.damage)
    assert any("Invalid NAL unit size" in d for d in stream.damage)


@pytest.mark.parametrize("backend", ["pyav", "opencv"])
def test_unreadable_inputs_raise_one_line_errors(tmp_path, backend):
    empty = tmp_path / "empty.mp4"
    empty.touch()
    text = tmp_path / "notes.mkv"
    text.write_text("this is not a video\n" * 50)
    for path, reason in [
        (empty, "empty file"),
        (text, "not a readable video"),
        (tmp_path / "gone.mp4", "no such file"),
    ]:
        with pytest.raises(VideoError, match=reason) as error:
            open_video(path, backend)
        assert "\n" not in str(error.value)


def test_audio_only_file_has_no_video_stream(tmp_path):
    audio = tmp_path / "song.mp4"
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:duration=1", "-c:a", "aac", audio)
    with pytest.raises(VideoError, match="no video stream"):
        open_video(audio)


def test_find_videos_searches_folders_by_suffix(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / ".cache").mkdir()
    for name in ("a/x.MP4", "a/b/y.webm", "a/readme.txt", "a/._x.MP4", "a/.cache/z.mp4"):
        (tmp_path / name).write_bytes(b"x")
    assert [p.name for p in find_videos(tmp_path)] == ["y.webm", "x.MP4"]  # sorted by path: a/b/y before a/x
