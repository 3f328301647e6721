"""``atdkit interpolate --video``: a cartoon film with held drawings, a cut and audio, retimed x2 for real."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from fractions import Fraction

import av
import numpy as np
import pytest

from atdkit.pipelines.extraction.synth import render_clip
from helpers import REPO, ffmpeg_decode, one_error, run_cli, shared

FPS = 24


def with_audio(video, out, seconds: float) -> None:
    """``video``'s packets copied beside a 440 Hz stereo AAC track of ``seconds``."""
    with av.open(str(video)) as source, av.open(str(out), "w") as film:
        picture = film.add_stream_from_template(source.streams.video[0])
        sound = film.add_stream("aac", rate=48000, layout="stereo")
        for packet in source.demux(source.streams.video[0]):
            if packet.dts is not None:
                packet.stream = picture
                film.mux(packet)
        wave = (0.3 * np.sin(2 * np.pi * 440 * np.arange(int(seconds * 48000)) / 48000)).astype(np.float32)
        for start in range(0, len(wave), 1024):
            frame = av.AudioFrame.from_ndarray(
                np.stack([wave[start : start + 1024]] * 2), format="fltp", layout="stereo"
            )
            frame.sample_rate, frame.pts = 48000, start
            film.mux(sound.encode(frame))
        film.mux(sound.encode(None))


@pytest.fixture(scope="module")
def film(tmp_path_factory):
    """2 s at 24 fps, 256x144: two shots, drawings held on ones, twos and threes; with audio."""
    folder = tmp_path_factory.mktemp("film")
    timeline = render_clip(folder / "silent.mp4", seed=3, size=(256, 144), seconds=2.0, fps=FPS)
    assert len(timeline.cuts) == 1
    with_audio(folder / "silent.mp4", folder / "film.mp4", 2.0)
    return folder / "film.mp4", timeline


def audio_packets(path, start: float = 0.0, stop: float = float("inf")) -> list[tuple[bytes, Fraction]]:
    """(bytes, time from ``start``) of the audio packets starting in [start, stop)."""
    with av.open(str(path)) as container:
        packets = [
            (bytes(p), p.pts * p.time_base - Fraction(start))
            for p in container.demux(container.streams.audio[0])
            if p.pts is not None and start <= p.pts * p.time_base < stop
        ]
    return packets


def video_facts(path) -> tuple[Fraction, float, str]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        duration = stream.duration * stream.time_base if stream.duration else container.duration / av.time_base
        return stream.average_rate, float(duration), stream.codec_context.pix_fmt


def retime(film, out, method, *options):
    result = run_cli("interpolate", "--video", film, "--out", out, "--method", method, "--factor", 2, *options)
    assert result.returncode == 0, result.stderr
    return result


def check_retimed(film, timeline, out) -> np.ndarray:
    """Twice the frames and rate, the same duration and audio, copies around the cut, in-betweens within holds."""
    rate, duration, pix_fmt = video_facts(out)
    assert rate == 2 * FPS and pix_fmt == "yuv420p"
    assert abs(duration - timeline.frame_count / FPS) <= 1 / FPS
    assert audio_packets(out) == audio_packets(film)
    frames = ffmpeg_decode(out).astype(np.int16)
    assert len(frames) == 2 * timeline.frame_count
    cut = timeline.cuts[0]
    last_drawing = timeline.drawing.index(timeline.drawing[cut - 1])  # the shot's last drawing, held up to the cut
    held = frames[2 * last_drawing : 2 * cut]
    assert len(held) >= 2 and (held == held[0]).all()  # copies of one drawing, not blends with the next shot
    source = ffmpeg_decode(film).astype(np.int16)
    # the next shot starts with its first drawing as it was, and the last one ends as it was (up to the colour
    # conversions of decoding, ~1.2 levels with FFmpeg's default YUV -> RGB, and encoding)
    assert np.abs(frames[2 * cut] - source[cut]).mean() < 1.5
    assert np.abs(frames[2 * cut - 1] - source[cut - 1]).mean() < 1.5
    drawings = [i for i in range(cut) if i == 0 or timeline.drawing[i] != timeline.drawing[i - 1]]
    for a, b in zip(drawings, drawings[1:]):
        if b - a >= 2:  # a held drawing: its frames replaced by in-betweens towards the next one
            assert all(np.abs(frames[j] - frames[2 * a]).mean() > 1 for j in range(2 * a + 1, 2 * b))
    return frames


@pytest.fixture(scope="module")
def blended(film, tmp_path_factory):
    """The film retimed x2 with blend, losslessly (--crf 0: frames decode as they were given), with its report."""
    folder = tmp_path_factory.mktemp("blended")
    result = retime(film[0], folder / "out.mp4", "blend", "--crf", 0, "--report", folder / "shots.csv")
    return folder, result


def test_blend_doubles_the_rate_with_cuts_held_audio_copied_and_a_report(film, blended):
    (path, timeline), (folder, result) = film, blended
    frames = check_retimed(path, timeline, folder / "out.mp4")
    # on a drawing held on twos at frames a, a + 1 and the next at b = a + 2, output frame 2a + 1 is t = 1/4 of the way
    source = ffmpeg_decode(path).astype(np.float64)
    a = next(i for i in range(timeline.cuts[0] - 3) if timeline.drawing[i : i + 3] == [timeline.drawing[i]] * 2 + [
        timeline.drawing[i] + 1
    ])  # fmt: skip
    assert np.abs(frames[2 * a + 1] - (0.75 * source[a] + 0.25 * source[a + 2])).mean() < 1.5
    import csv

    rows = list(csv.DictReader((folder / "shots.csv").open()))
    cut = timeline.cuts[0]
    assert [(int(r["first_frame"]), int(r["last_frame"])) for r in rows] == [(0, cut - 1), (cut, 47)]
    for row in rows:
        shot = range(int(row["first_frame"]), int(row["last_frame"]) + 1)
        ids = [timeline.drawing[i] for i in shot]
        holds = [ids.count(d) for d in dict.fromkeys(ids)]
        assert int(row["drawings"]) == len(holds)
        assert float(row["twos"]) == pytest.approx(holds.count(2) / len(holds), abs=1e-3)
        assert int(row["generated"]) + int(row["copied"]) == 2 * len(shot)
    assert "48 frames -> 96 at 48 fps, 1 cuts" in " ".join(result.stderr.split())


def test_dis_warp_makes_in_betweens_and_holds_at_the_cut(film, tmp_path):
    path, timeline = film
    retime(path, tmp_path / "out.mp4", "dis-warp", "--crf", 0, "--device", "cpu")
    check_retimed(path, timeline, tmp_path / "out.mp4")


def test_a_killed_run_resumes_to_the_same_film(film, blended, tmp_path):
    path, _ = film
    options = ("--chunk-seconds", 0.25, "--crf", 0)  # 8 chunks of 12 output frames
    out = tmp_path / "killed.mp4"
    command = [sys.executable, "-m", "atdkit", "interpolate", "--video", path, "--out", out, "--method", "blend"]
    process = subprocess.Popen([*map(str, command), "--factor", "2", *map(str, options)], cwd=REPO)
    marker = tmp_path / "killed.mp4.parts" / "chunk_000001.json"
    deadline = time.monotonic() + 60
    while not marker.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)
    process.send_signal(signal.SIGKILL)
    process.wait()
    done = sorted(p.name for p in marker.parent.glob("chunk_*.json"))
    assert not out.exists() and 2 <= len(done) < 8, done
    resumed = retime(path, out, "blend", *options)
    assert f"{len(done)} chunks from an earlier run" in " ".join(resumed.stderr.split())
    assert not marker.parent.exists()
    assert (ffmpeg_decode(out) == ffmpeg_decode(blended[0] / "out.mp4")).all()  # lossless: chunking changes nothing
    assert audio_packets(out) == audio_packets(path)


def test_bad_input_is_refused_in_one_line(capsys, film, tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a film" * 100)
    command = ("interpolate", "--method", "blend", "--factor", 2, "--video")
    assert f"{bad}: not a readable video" in one_error(capsys, *command, bad, "--out", tmp_path / "o.mp4")
    assert "no such file" in one_error(capsys, *command, tmp_path / "absent.mp4", "--out", tmp_path / "o.mp4")
    assert "write to one of .mp4" in one_error(capsys, *command, film[0], "--out", tmp_path / "o.avi")
    assert list(tmp_path.iterdir()) == [bad]


def test_a_real_film_on_twos_with_opus_audio(tmp_path):
    clip = shared("clips", "hero_grease_pencil_twos.webm")
    out = tmp_path / "hero.mp4"  # opus audio copied into MP4
    retime(clip, out, "blend", "--start", 0.5, "--duration", 1, "--report", tmp_path / "shots.parquet")
    rate, duration, _ = video_facts(out)
    assert rate == Fraction(48000, 1001) and abs(duration - 1) <= 1001 / 24000
    assert audio_packets(out) == audio_packets(clip, 0.5, 1.5)
    import pyarrow.parquet as pq

    shots = pq.read_table(tmp_path / "shots.parquet").to_pylist()
    # frames 12-35: four drawings on twos, one held for six frames, the action on ones; no cut
    assert [(s["drawings"], s["ones"], s["twos"], s["longer"]) for s in shots] == [(15, 0.667, 0.267, 0.067)]
    assert shots[0]["output_frames"] == len(ffmpeg_decode(out)) == 48


def test_a_real_cut_is_held_not_blended(tmp_path):
    clip = shared("clips", "hero_grease_pencil_twos.webm")
    out = tmp_path / "cut.mp4"
    retime(clip, out, "blend", "--start", 4.5, "--duration", 1, "--crf", 0, "--report", tmp_path / "shots.csv")
    import csv

    shots = list(csv.DictReader((tmp_path / "shots.csv").open()))
    assert [int(s["first_frame"]) for s in shots] == [0, 6]  # film frame 114, the cut to the clouds
    frames = ffmpeg_decode(out).astype(np.int16)
    assert len(frames) == 48
    # output frames 10 and 11 lie before the cut: the shot's last drawing held, never blended with the clouds
    assert np.abs(frames[11] - frames[10]).max() <= 2 and np.abs(frames[12] - frames[11]).mean() > 20
