"""``atdkit stats``: flow statistics against known motion, resuming, difficulty calibration, bad input."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pyarrow.parquet as pq
import pytest
from sklearn.metrics import cohen_kappa_score

from atdkit import schema
from atdkit.cli import main
from atdkit.pipelines.statistics.difficulty import Thresholds, _kappas, calibrate
from atdkit.pipelines.statistics.flow import make_estimator
from atdkit.pipelines.statistics.motion import occluded
from atdkit.video import ffmpeg_executable
from helpers import REPO, run_cli, write_labels

PAN_SIZE, PAN_STEP = (1280, 720), 5  # larger than the 960x540 flow box: vectors must be scaled back


def textured_scene(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """A cartoon-like RGB picture: gradient, outlined ellipses of flat colour, a little grain."""
    x, y = np.linspace(0, 1, width)[None, :, None], np.linspace(0, 1, height)[:, None, None]
    scene = np.broadcast_to(90 + 90 * x + 50 * y, (height, width, 3)).copy()
    for _ in range(width * height // 2500):
        centre = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        axes = (int(rng.integers(6, 40)), int(rng.integers(6, 40)))
        angle = float(rng.uniform(0, 180))
        cv2.ellipse(scene, centre, axes, angle, 0, 360, tuple(int(v) for v in rng.integers(0, 256, 3)), -1, cv2.LINE_AA)
        cv2.ellipse(scene, centre, axes, angle, 0, 360, (25, 25, 25), 2, cv2.LINE_AA)
    return (scene + rng.normal(0, 8, scene.shape)).clip(0, 255).astype(np.uint8)


def pan_clip(out: Path, size: tuple[int, int], step: int, frames: int, seed: int = 0) -> Path:
    """A clip panning over a wide scene by ``step`` pixels per frame (content moves left), H.264."""
    width, height = size
    scene = textured_scene(np.random.default_rng(seed), width + step * frames, height)
    raw = b"".join(scene[:, i * step : i * step + width].tobytes() for i in range(frames))
    subprocess.run(
        [
            ffmpeg_executable(),
            "-v",
            "error",
            "-y",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "-s",
            f"{width}x{height}",
            "-r",
            "24",
            "-i",
            "-",
            "-c:v",
            "libx264",
            "-crf",
            "12",
            "-preset",
            "veryfast",
            "-pix_fmt",
            "yuv420p",
            str(out),
        ],
        input=raw,
        check=True,
    )
    return out


def extract_everything(clip: Path, out: Path, *options: str) -> Path:
    """Every candidate triplet of ``clip`` kept (no SSIM band, no redundancy filter)."""
    result = run_cli(
        "extract",
        "--videos",
        clip,
        "--out",
        out,
        "--ssim-low",
        "0",
        "--ssim-high",
        "1",
        "--min-gap",
        "0",
        "--min-change",
        "0",
        *options,
    )
    assert result.returncode == 0, result.stderr
    return out


def motion_rows(dataset: Path) -> dict[str, dict]:
    table = pq.read_table(dataset / "motion.parquet", schema=schema.MOTION)
    return {row["triplet_id"]: row for row in table.to_pylist()}


def triplet_rows(dataset: Path) -> dict[str, dict]:
    return {
        row["triplet_id"]: row
        for row in pq.read_table(dataset / "triplets.parquet", schema=schema.TRIPLETS).to_pylist()
    }


@pytest.fixture(scope="module")
def pan_dataset(tmp_path_factory) -> Path:
    """24 triplets of a 1280x720 pan (5 px per frame), measured by ``atdkit stats --workers 2``."""
    folder = tmp_path_factory.mktemp("pan")
    dataset = extract_everything(pan_clip(folder / "pan.mp4", PAN_SIZE, PAN_STEP, 12), folder / "dataset")
    result = run_cli("stats", dataset, "--workers", "2")
    assert result.returncode == 0, result.stderr
    assert "measured 24 triplet(s)" in result.stderr
    return dataset


@pytest.fixture(scope="module")
def small_pan(tmp_path_factory) -> Path:
    """6 triplets of a 640x360 pan (3 px per frame, interval 0), inside the flow box; not measured."""
    folder = tmp_path_factory.mktemp("small_pan")
    return extract_everything(
        pan_clip(folder / "small.mp4", (640, 360), 3, 8, seed=1), folder / "dataset", "--intervals", "0"
    )


def stats(capsys, *args) -> tuple[int, str]:
    """``atdkit stats ARGS --workers 1`` in this process: the real command line without starting
    an interpreter. Returns the exit status and stderr, its lines joined (rich wraps long ones)."""
    status = main(["stats", *map(str, args), "--workers", "1"])
    return status, " ".join(capsys.readouterr().err.split())


def copy_dataset(dataset: Path, to: Path) -> Path:
    shutil.copytree(dataset, to, ignore=shutil.ignore_patterns(".lock"))
    return to


def test_flow_mean_is_the_known_pan_displacement_at_source_resolution(pan_dataset):
    motion, triplets = motion_rows(pan_dataset), triplet_rows(pan_dataset)
    assert motion.keys() == triplets.keys() and len(motion) == 24
    for triplet_id, row in motion.items():
        displacement = PAN_STEP * 2 * (triplets[triplet_id]["interval"] + 1)  # frame1 -> frame3, in 1280x720 pixels
        assert row["flow_mean"] == pytest.approx(displacement, rel=0.10), triplet_id
        assert row["flow_std"] < 0.1 * displacement, "a pan moves every pixel alike"
        # what leaves the picture (a strip as wide as the displacement) has no match, and nothing else is occluded
        assert row["occlusion_ratio"] == pytest.approx(displacement / PAN_SIZE[0], abs=0.005), triplet_id
        # defaults: 10 px is 0.68% of the 1469 px diagonal (easy); 20 and 30 px are 1.4% and 2.0% (medium)
        assert row["suggested_difficulty"] == ("easy" if displacement == 10 else "medium"), triplet_id
    histograms = cv2.imread(str(pan_dataset / "stats" / "motion_histograms.png"))
    assert histograms is not None and histograms.shape[1] > 2 * histograms.shape[0], "three panels side by side"


def test_frames_inside_the_flow_box_and_a_compared_dataset(pan_dataset, small_pan, tmp_path, capsys):
    small = copy_dataset(small_pan, tmp_path / "small")
    status, err = stats(capsys, small, "--compare", pan_dataset)
    assert status == 0, err
    rows = motion_rows(small)
    assert len(rows) == 6
    for row in rows.values():
        assert row["flow_mean"] == pytest.approx(6, rel=0.10)
    overlaid = cv2.imread(str(small / "stats" / "motion_histograms.png"))
    status, err = stats(capsys, small)
    assert status == 0 and "nothing new to measure, 6 reused" in err
    assert not np.array_equal(overlaid, cv2.imread(str(small / "stats" / "motion_histograms.png"))), (
        "the comparison is drawn"
    )


@pytest.mark.slow
def test_a_killed_run_resumes_from_its_saved_parts(pan_dataset, tmp_path):
    dataset = copy_dataset(pan_dataset, tmp_path / "dataset")
    (dataset / "motion.parquet").unlink()
    child = subprocess.Popen(
        [sys.executable, "-m", "atdkit", "stats", str(dataset), "--workers", "1"],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    parts = dataset / "stats" / "motion-parts"
    deadline = time.monotonic() + 120
    while not any(parts.glob("part-*.parquet")) and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert not (dataset / "motion.parquet").exists(), "the table appears only when every triplet is measured"
    saved = sum(pq.read_metadata(p).num_rows for p in parts.glob("part-*.parquet"))
    assert 16 <= saved < 24

    result = run_cli("stats", dataset, "--workers", "2")
    assert result.returncode == 0, result.stderr
    assert f"measured {24 - saved} triplet(s)" in result.stderr and f"{saved} reused" in result.stderr
    assert not parts.exists()
    resumed, clean = motion_rows(dataset), motion_rows(pan_dataset)
    assert resumed.keys() == clean.keys()
    for triplet_id, row in clean.items():
        assert resumed[triplet_id]["flow_mean"] == pytest.approx(row["flow_mean"], rel=1e-6)
        assert resumed[triplet_id]["occlusion_ratio"] == pytest.approx(row["occlusion_ratio"], abs=1e-6)


def test_another_flow_box_measures_again_and_still_reports_source_pixels(pan_dataset, tmp_path, capsys):
    dataset = copy_dataset(pan_dataset, tmp_path / "dataset")
    status, err = stats(capsys, dataset, "--flow-size", "480x270")
    assert status == 0, err
    assert "measured 24 triplet(s)" in err and "0 reused" in err
    triplets = triplet_rows(dataset)
    for triplet_id, row in motion_rows(dataset).items():
        assert row["flow_mean"] == pytest.approx(PAN_STEP * 2 * (triplets[triplet_id]["interval"] + 1), rel=0.10)
    assert pq.read_schema(dataset / "motion.parquet").metadata[b"atdkit.flow_box"] == b"480x270"


def random_tiles(rng: np.random.Generator, width: int, height: int, tile: int, palette: np.ndarray) -> np.ndarray:
    colours = palette[rng.integers(0, len(palette), (height // tile, width // tile))]
    return cv2.resize(colours, (width, height), interpolation=cv2.INTER_NEAREST)


def test_occlusion_is_what_a_moving_object_covers():
    """A square moving 16 px right over a static background hides a 16 px wide strip of
    background and reveals another. Both are tiled in colours that never match each other, so
    every hidden pixel changes colour: the occluded pixels are those strips, give or take the
    flow's blur along the square's edges; the rest of the background is never flagged."""
    rng = np.random.default_rng(5)
    background = random_tiles(rng, 320, 240, 6, rng.integers(0, 120, (32, 3)).astype(np.uint8))
    sprite = random_tiles(rng, 96, 96, 8, rng.integers(150, 256, (32, 3)).astype(np.uint8))
    first, second = background.copy(), background.copy()
    first[72:168, 100:196], second[72:168, 116:212] = sprite, sprite
    outlines = np.zeros((240, 320), np.uint8)
    for left in (100, 116):
        cv2.rectangle(outlines, (left, 72), (left + 95, 167), 1, thickness=1)
    near_edges = cv2.distanceTransform(1 - outlines, cv2.DIST_L2, 3) <= 12  # the flow blurs across the square's edges
    estimate = make_estimator("dis")
    for image, other, flow, back, hidden_columns in (
        (first, second, estimate(first, second), estimate(second, first), slice(196, 212)),
        (second, first, estimate(second, first), estimate(first, second), slice(100, 116)),
    ):
        truth = np.zeros((240, 320), bool)
        truth[72:168, hidden_columns] = True
        mask = occluded(image, other, flow, back)
        assert (mask & truth).sum() > 0.7 * truth.sum()
        assert not (mask & ~truth & ~near_edges).any()
    static = estimate(first, first)
    assert not occluded(first, first, static, static).any()


def test_calibration_recovers_the_thresholds_that_made_the_labels(pan_dataset, tmp_path, capsys):
    """Labels made with hard from 1.7% motion (intervals 0, 1, 2: 0.68%, 1.36%, 2.04% of the diagonal)."""
    dataset = copy_dataset(pan_dataset, tmp_path / "dataset")
    truth = Thresholds(motion_medium=1.0, motion_hard=1.7, occlusion_medium=float("inf"), occlusion_hard=float("inf"))
    difficulty = {t: schema.DIFFICULTIES[row["interval"]] for t, row in triplet_rows(dataset).items()}
    write_labels(dataset, difficulty)
    status, err = stats(capsys, dataset, "--calibrate")
    assert status == 0, err
    assert "calibrated on 24 human difficulties" in err and "kappa 1.000" in err
    fitted = Thresholds.from_json((dataset / "stats" / "difficulty_thresholds.json").read_text())
    assert 0.68 < fitted.motion_medium < 1.36 < fitted.motion_hard < 2.04, fitted
    assert {t: r["suggested_difficulty"] for t, r in motion_rows(dataset).items()} == difficulty
    recorded = pq.read_schema(dataset / "motion.parquet").metadata[b"atdkit.difficulty_thresholds"]
    assert json.loads(recorded)["motion_hard"] == fitted.motion_hard
    assert truth.levels(np.array([0.68, 1.36, 2.04]), np.zeros(3)).tolist() == [0, 1, 2]

    status, err = stats(capsys, dataset)  # later runs keep the calibrated thresholds
    assert status == 0 and {t: r["suggested_difficulty"] for t, r in motion_rows(dataset).items()} == difficulty
    assert "agreement with 24 human difficulties: quadratic-weighted kappa 1.000" in err


def test_calibration_recovers_continuous_thresholds():
    rng = np.random.default_rng(3)
    motion, occlusion = rng.uniform(0, 5, 400), rng.uniform(0, 0.4, 400)
    truth = Thresholds(motion_medium=1.3, motion_hard=3.1, occlusion_medium=0.08, occlusion_hard=0.25)
    fitted = calibrate(motion, occlusion, truth.levels(motion, occlusion))
    assert np.array_equal(fitted.levels(motion, occlusion), truth.levels(motion, occlusion))
    assert fitted.motion_medium == pytest.approx(1.3, abs=0.1) and fitted.motion_hard == pytest.approx(3.1, abs=0.1)
    assert fitted.occlusion_medium == pytest.approx(0.08, abs=0.01) and fitted.occlusion_hard == pytest.approx(
        0.25, abs=0.01
    )


def test_batch_kappa_is_scikit_learns_quadratic_kappa():
    rng = np.random.default_rng(0)
    human, predictions = rng.integers(0, 3, 60), rng.integers(0, 3, (8, 60))
    predictions[0] = human
    expected = [cohen_kappa_score(human, p, labels=[0, 1, 2], weights="quadratic") for p in predictions]
    assert _kappas(human, predictions) == pytest.approx(expected)


def test_bad_input_gets_one_line_naming_the_file(pan_dataset, small_pan, tmp_path, capsys):
    def fails(*args, status=2):
        code, err = stats(capsys, *args)
        assert code == status and "Traceback" not in err, err
        return err

    assert "no such dataset folder" in fails(tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    assert f"{tmp_path / 'empty' / 'triplets.parquet'}: no such file (run atdkit extract first)" in fails(
        tmp_path / "empty"
    )
    assert "unknown flow method 'raft'; available: dis" in fails(pan_dataset, "--flow", "raft")
    no_motion = fails(pan_dataset, "--compare", tmp_path / "empty")
    assert f"{tmp_path / 'empty' / 'motion.parquet'}: no such file (run atdkit stats first)" in no_motion
    assert "labels.parquet: no such file" in fails(pan_dataset, "--calibrate")

    dataset = copy_dataset(pan_dataset, tmp_path / "dataset")
    write_labels(dataset, dict.fromkeys(list(triplet_rows(dataset))[:3], "hard"))
    assert "calibration needs at least 10 human difficulties covering two levels, got 3 covering 1" in fails(
        dataset, "--calibrate"
    )

    dataset = copy_dataset(small_pan, tmp_path / "small")
    first, second = sorted(triplet_rows(dataset))[:2]
    (dataset / "frames" / first / "frame3.png").unlink()
    (dataset / "frames" / second / "frame1.png").write_bytes(b"not a png")
    errors = fails(dataset, status=1)
    assert f"error: {dataset / 'frames' / first / 'frame3.png'}: no such file" in errors
    assert f"error: {dataset / 'frames' / second / 'frame1.png'}: not a readable image" in errors
    assert set(motion_rows(dataset)) == set(triplet_rows(dataset)) - {first, second}, "the others are measured"
