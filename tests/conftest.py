"""Shared fixtures: the real clips in ../shared/data, synthetic clips with known truth, the CLI."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


def shared(*parts: str) -> Path:
    """A file under ../shared/data, or skip the test with the reason."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent (the real test material lives in ../shared/data beside the repository)")
    return path


def run_atdkit(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run the real command line in a fresh process."""
    return subprocess.run(
        [sys.executable, "-m", "atdkit", *map(str, args)], capture_output=True, text=True, timeout=timeout, cwd=REPO
    )


def ffmpeg_decode(path: Path, pix_fmt: str = "rgb24") -> np.ndarray:
    """Every frame of ``path`` decoded by the ffmpeg binary, independently of atdkit's reader.

    ``pix_fmt`` rgb24 gives (N, H, W, 3); yuv420p gives the luma planes (N, H, W).
    """
    import av

    with av.open(str(path)) as container:
        width, height = container.streams.video[0].width, container.streams.video[0].height
    from atdkit.video import ffmpeg_executable

    raw = subprocess.run(
        [ffmpeg_executable(), "-v", "quiet", "-i", str(path), "-map", "0:v:0", "-fps_mode", "passthrough",
         "-f", "rawvideo", "-pix_fmt", pix_fmt, "-"],
        capture_output=True, check=False,
    ).stdout
    if pix_fmt == "rgb24":
        frame_bytes = width * height * 3
        count = len(raw) // frame_bytes
        return np.frombuffer(raw[: count * frame_bytes], np.uint8).reshape(count, height, width, 3)
    chroma = 2 * ((width + 1) // 2) * ((height + 1) // 2)
    frame_bytes = width * height + chroma
    count = len(raw) // frame_bytes
    frames = np.frombuffer(raw[: count * frame_bytes], np.uint8).reshape(count, frame_bytes)
    return frames[:, : width * height].reshape(count, height, width)


@pytest.fixture(scope="session", autouse=True)
def only_the_tests_weight_files(tmp_path_factory):
    """Weight files are looked up in an empty folder, not the machine's ~/.cache/atdkit/weights (subprocesses inherit it)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ATDKIT_WEIGHTS", str(tmp_path_factory.mktemp("weights")))
        yield


@pytest.fixture(scope="session")
def synth_clip(tmp_path_factory) -> tuple[Path, "object"]:
    """A 6-second 640x360 synthetic cartoon clip and its timeline."""
    from pipelines.synth import render_clip

    clip = tmp_path_factory.mktemp("synth") / "cartoon.mp4"
    return clip, render_clip(clip, seed=3)


@pytest.fixture(scope="session")
def cartoon_dataset(tmp_path_factory) -> Path:
    """A dataset extracted from four short synthetic clips (films film_0..film_3; series alpha,
    alpha, beta, gamma), about 24 triplets. Read-only: copy it before changing it."""
    from pipelines.synth import render_clip

    folder = tmp_path_factory.mktemp("cartoon")
    clips = [folder / f"film_{i}.mp4" for i in range(4)]
    for i, clip in enumerate(clips):
        render_clip(clip, seed=11 + i, size=(320, 180), seconds=3)
    (folder / "series.csv").write_text("source_id,series\nfilm_0,alpha\nfilm_1,alpha\nfilm_2,beta\nfilm_3,gamma\n")
    result = run_atdkit("extract", "--videos", *clips, "--series-map", folder / "series.csv", "--out", folder / "dataset")
    assert result.returncode == 0, result.stderr
    return folder / "dataset"


@pytest.fixture
def dataset(cartoon_dataset, tmp_path) -> Path:
    """A writable copy of ``cartoon_dataset``."""
    import shutil

    root = tmp_path / "dataset"
    shutil.copytree(cartoon_dataset, root)
    return root


@pytest.fixture
def ids(dataset) -> list[str]:
    """The triplet ids of ``dataset``."""
    from atdkit import schema
    from atdkit.store import read_table

    return read_table(dataset / "triplets.parquet", schema.TRIPLETS)["triplet_id"].to_pylist()


def write_labels(dataset: Path, difficulty: dict[str, str | None], tags: dict[str, list[str]] | None = None) -> None:
    """A consolidated labels.parquet: two eligible annotators per triplet, the given difficulty
    and general-motion tags (``tags``: triplet_id -> tags)."""
    from atdkit import schema
    from atdkit.store import write_table

    rows = [
        {"triplet_id": t, "n_labels": 2, "n_eligible": 2, "kept": True, "difficulty": d, "general_motion": (tags or {}).get(t, []),
         "behavior": [], "needs_review": False}
        for t, d in difficulty.items()
    ]
    write_table(dataset / "labels.parquet", rows, schema.LABELS)
