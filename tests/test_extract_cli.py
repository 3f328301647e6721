"""The extract command as a user runs it: bad input, resuming after kill -9, re-filtering."""

import os
import shutil
import signal
import subprocess
import sys
import time

import pyarrow.parquet as pq
import pytest

from atdkit import schema
from atdkit.video import ffmpeg_executable
from helpers import REPO, run_cli


def rows(path, schema_=schema.TRIPLETS):
    return sorted(pq.read_table(path, schema=schema_).to_pylist(), key=lambda r: r.get("triplet_id") or r["source_id"])


def sources(dataset):
    return {r["source_id"]: r for r in rows(dataset / "sources.parquet", schema.SOURCES)}


def ffmpeg(*args):
    subprocess.run([ffmpeg_executable(), "-v", "error", "-y", *map(str, args)], check=True)


@pytest.fixture(scope="module")
def bad_inputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bad")
    (folder / "empty.mp4").touch()
    (folder / "notes.mp4").write_text("not a video at all\n" * 100)
    (folder / "noise.mkv").write_bytes(os.urandom(50_000))
    ffmpeg("-f", "lavfi", "-i", "sine=duration=1", "-c:a", "aac", folder / "audio_only.mp4")
    ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=8x8:rate=24",
        "-frames:v",
        "30",
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv444p",
        folder / "tiny.mp4",
    )
    (folder / "empty_folder").mkdir()
    return folder


EXPECTED_ERRORS = {
    "empty.mp4": "empty file (0 bytes)",
    "notes.mp4": "not a readable video",
    "noise.mkv": "not a readable video",
    "audio_only.mp4": "no video stream (has: audio)",
    "tiny.mp4": "frames are 8x8, smaller than the 11x11 SSIM window",
}


def test_bad_inputs_get_one_line_each_and_the_good_film_is_extracted(bad_inputs, synth_clip, tmp_path):
    clip, _ = synth_clip
    out = tmp_path / "ds"
    videos = [bad_inputs / name for name in EXPECTED_ERRORS] + [
        bad_inputs / "empty_folder",
        tmp_path / "missing.mp4",
        clip,
    ]
    result = run_cli("extract", "--videos", *videos, "--out", out)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.splitlines()
    for name, reason in EXPECTED_ERRORS.items():
        assert sum(f"error: {bad_inputs / name}: {reason}" in line for line in lines) == 1, (name, result.stderr)
    assert sum(f"error: {bad_inputs / 'empty_folder'}: folder contains no video files" in line for line in lines) == 1
    assert sum(f"error: {tmp_path / 'missing.mp4'}: no such file or folder" in line for line in lines) == 1
    recorded = sources(out)
    assert recorded["cartoon"]["status"] == "ok" and recorded["cartoon"]["kept"] > 0
    assert {recorded[Path_stem(n)]["status"] for n in EXPECTED_ERRORS} == {"failed"}
    assert rows(out / "triplets.parquet") and all(r["source_id"] == "cartoon" for r in rows(out / "triplets.parquet"))


def Path_stem(name):
    return name.rsplit(".", 1)[0]


def test_usage_errors_are_one_line(tmp_path):
    for args, message in [
        (["extract", "--videos", "x.mp4"], "--out DATASET_DIR is required"),
        (
            ["extract", "--videos", "x.mp4", "--out", tmp_path, "--ssim-low", "0.9", "--ssim-high", "0.8"],
            "SSIM band needs",
        ),
        (["extract", "--refilter", tmp_path / "nothing"], "not an atdkit dataset"),
    ]:
        result = run_cli(*args)
        assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr


@pytest.fixture(scope="module")
def long_clips(tmp_path_factory):
    from atdkit.pipelines.extraction.synth import render_clip

    folder = tmp_path_factory.mktemp("long")
    for seed in (1, 2):
        render_clip(folder / f"film{seed}.mp4", seed=seed, seconds=15)
    return folder


@pytest.mark.slow
def test_killed_run_resumes_to_the_same_tables(long_clips, tmp_path):
    reference = tmp_path / "reference"
    assert run_cli("extract", "--videos", long_clips, "--out", reference, "--workers", "1").returncode == 0
    expected = rows(reference / "triplets.parquet")
    out = tmp_path / "killed"
    for wait_for in ("frames", "cache/film1/source.parquet"):  # kill at two different moments
        process = subprocess.Popen(
            [sys.executable, "-m", "atdkit", "extract", "--videos", long_clips, "--out", out, "--workers", "1"],
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while not (out / wait_for).exists() or (wait_for == "frames" and not any((out / "frames").iterdir())):
            assert process.poll() is None and time.monotonic() < deadline, "run ended before it could be killed"
            time.sleep(0.005)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        assert not (out / "triplets.parquet").exists()
    resumed = run_cli("extract", "--videos", long_clips, "--out", out, "--workers", "1")
    assert resumed.returncode == 0, resumed.stderr
    assert rows(out / "triplets.parquet") == expected
    assert not list(out.rglob(".tmp-*"))
    for t in expected:
        assert sorted(p.name for p in (out / "frames" / t["triplet_id"]).iterdir()) == [
            "frame1.png",
            "frame2.png",
            "frame3.png",
        ]


def test_finished_films_are_not_decoded_again(synth_clip, tmp_path):
    clip, _ = synth_clip
    out = tmp_path / "ds"
    assert run_cli("extract", "--videos", clip, "--out", out).returncode == 0
    stamps = {p: p.stat().st_mtime_ns for p in (out / "frames").rglob("*.png")}
    moved = tmp_path / "elsewhere" / clip.name
    moved.parent.mkdir()
    shutil.copy(clip, moved)  # same content at another path: still the same film
    again = run_cli("extract", "--videos", moved, "--out", out)
    assert again.returncode == 0, again.stderr
    assert {p: p.stat().st_mtime_ns for p in (out / "frames").rglob("*.png")} == stamps
    assert list(sources(out)) == ["cartoon"]


def test_refilter_equals_a_fresh_extraction_and_needs_no_decoding(synth_clip, tmp_path):
    clip, _ = synth_clip
    work = tmp_path / clip.name
    shutil.copy(clip, work)
    out, fresh = tmp_path / "ds", tmp_path / "fresh"
    loose = ["--min-gap", "0", "--min-change", "0"]
    assert run_cli("extract", "--videos", work, "--out", out, *loose).returncode == 0
    before = rows(out / "triplets.parquet")
    low = sorted(t["ssim_12"] for t in before)[len(before) // 2]  # a band that cuts this clip in half
    work.unlink()  # narrowing the band keeps a subset: nothing to decode, so the film is not needed
    narrowed = run_cli("extract", "--refilter", out, "--ssim-low", low, "--ssim-high", "0.9")
    assert narrowed.returncode == 0, narrowed.stderr
    after = rows(out / "triplets.parquet")
    in_band = [t for t in before if all(low <= t[k] <= 0.9 for k in ("ssim_12", "ssim_23", "ssim_13"))]
    assert after == in_band and 0 < len(after) < len(before)
    shutil.copy(clip, work)
    assert (
        run_cli("extract", "--videos", work, "--out", fresh, *loose, "--ssim-low", low, "--ssim-high", "0.9").returncode
        == 0
    )
    assert after == rows(fresh / "triplets.parquet")
    assert sources(out)["cartoon"]["ssim_low"] == low and sources(out)["cartoon"]["scan_ssim_low"] == 0.75


@pytest.mark.slow
def test_refilter_with_redundancy_writes_only_the_new_frames(synth_clip, tmp_path):
    clip, _ = synth_clip
    out, fresh = tmp_path / "ds", tmp_path / "fresh"
    assert run_cli("extract", "--videos", clip, "--out", out, "--dry-run").returncode == 0
    assert not (out / "frames").exists() and rows(out / "triplets.parquet")
    assert run_cli("extract", "--refilter", out, "--min-gap", "4").returncode == 0
    assert run_cli("extract", "--videos", clip, "--out", fresh, "--min-gap", "4").returncode == 0
    assert rows(out / "triplets.parquet") == rows(fresh / "triplets.parquet")
    for t in rows(out / "triplets.parquet"):
        for n in (1, 2, 3):
            assert (out / "frames" / t["triplet_id"] / f"frame{n}.png").read_bytes() == (
                fresh / "frames" / t["triplet_id"] / f"frame{n}.png"
            ).read_bytes()


@pytest.mark.slow
def test_widening_the_band_scans_again(synth_clip, tmp_path):
    clip, _ = synth_clip
    out, fresh = tmp_path / "ds", tmp_path / "fresh"
    assert run_cli("extract", "--videos", clip, "--out", out, "--ssim-low", "0.85").returncode == 0
    assert run_cli("extract", "--refilter", out, "--ssim-low", "0.7").returncode == 0
    assert run_cli("extract", "--videos", clip, "--out", fresh, "--ssim-low", "0.7").returncode == 0
    assert rows(out / "triplets.parquet") == rows(fresh / "triplets.parquet")
    assert sources(out)["cartoon"]["scan_ssim_low"] == 0.7
