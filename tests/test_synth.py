"""The synthetic clip: real FFmpeg encoding, decoded with PyAV, SSIM truth checked with skimage."""

from __future__ import annotations

from itertools import groupby

import av
import cv2
import numpy as np
import pytest
from skimage.metrics import structural_similarity

from atdkit.pipelines.extraction.synth import Timeline, render_clip

BAND = (0.75, 0.95)  # the extraction's default SSIM band
MARGIN = 0.03  # distinct drawings must sit at least this far inside it
ANALYSIS_BOX = (320, 180)


def decode_luma(path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="gray") for frame in container.decode(video=0)]


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    return structural_similarity(a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255)


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """A 4-second 640x360 clip (two shots) and its timeline."""
    path = tmp_path_factory.mktemp("synth") / "clip.mp4"
    return path, render_clip(path, seed=1, seconds=4.0)


def test_deterministic_per_seed(tmp_path):
    small = dict(size=(160, 90), seconds=1.5)
    first = render_clip(tmp_path / "a.mp4", seed=5, **small)
    again = render_clip(tmp_path / "b.mp4", seed=5, **small)
    other = render_clip(tmp_path / "c.mp4", seed=6, **small)
    assert first == again
    assert first != other
    frames = decode_luma(tmp_path / "a.mp4")
    assert all(np.array_equal(x, y) for x, y in zip(frames, decode_luma(tmp_path / "b.mp4"), strict=True))
    assert not all(np.array_equal(x, y) for x, y in zip(frames, decode_luma(tmp_path / "c.mp4")))


def test_clip_decodes_as_the_timeline_says(clip):
    path, timeline = clip
    assert (timeline.seed, timeline.width, timeline.height, timeline.fps) == (1, 640, 360, 24.0)
    assert timeline.frame_count == len(timeline.shot) == len(timeline.motion) == 96
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert stream.average_rate == 24
        sizes = [(frame.width, frame.height) for frame in container.decode(stream)]
    assert sizes == [(640, 360)] * timeline.frame_count
    saved = path.with_name("clip.timeline.json")
    assert Timeline.from_json(saved.read_text()) == timeline
    assert Timeline.from_json(timeline.to_json()) == timeline
    assert not [p.name for p in path.parent.iterdir() if p.name.startswith(".tmp-")]


def test_holds_cuts_and_motion(clip):
    path, timeline = clip
    holds = [len(list(run)) for _, run in groupby(timeline.drawing)]
    assert {2, 3} <= set(holds) <= {1, 2, 3}
    assert timeline.cuts and all(timeline.shot[i] == timeline.shot[i - 1] + 1 for i in timeline.cuts)
    assert timeline.drawing == sorted(timeline.drawing)
    for i in range(1, timeline.frame_count):
        moved = [abs(dx) + abs(dy) for dx, dy in timeline.motion[i]]
        same_drawing = timeline.drawing[i] == timeline.drawing[i - 1]
        assert moved and (max(moved) == 0 if same_drawing or i in timeline.cuts else min(moved) > 0)
    frames = decode_luma(path)
    held = [
        ssim(frames[i], frames[i - 1]) for i in range(1, len(frames)) if timeline.drawing[i] == timeline.drawing[i - 1]
    ]
    assert min(held) > 0.97


def test_ssim_truth_matches_timeline(clip):
    """Decoded, downscaled luma SSIM: holds above the band, distinct drawings of a shot well inside it,
    frames across a cut far below it; so a band filter keeps exactly ``in_band_candidates()``."""
    path, timeline = clip
    frames = [cv2.resize(luma, ANALYSIS_BOX, interpolation=cv2.INTER_AREA) for luma in decode_luma(path)]
    pair = {
        (i, j): ssim(frames[i], frames[j])
        for i in range(timeline.frame_count)
        for j in range(i + 1, min(i + 7, timeline.frame_count))
    }
    low, high = BAND
    for (i, j), value in pair.items():
        if timeline.shot[i] != timeline.shot[j]:
            assert value < 0.6, (i, j, value)
        elif timeline.drawing[i] == timeline.drawing[j]:
            assert value > 0.97, (i, j, value)
        else:
            assert low + MARGIN <= value <= high - MARGIN, (i, j, value)
    kept = set()
    for interval in (0, 1, 2):
        s = interval + 1
        for start in range(timeline.frame_count - 2 * s):
            a, b, c = start, start + s, start + 2 * s
            if all(low <= pair[p] <= high for p in ((a, b), (b, c), (a, c))):
                kept.add((start, interval))
    assert kept == timeline.in_band_candidates()
    assert len(kept) > 50


def test_in_band_candidates_by_hand():
    timeline = Timeline(
        seed=0, fps=24.0, width=16, height=16,
        drawing=[0, 0, 1, 2, 2, 3, 4, 5],
        shot=[0, 0, 0, 0, 0, 1, 1, 1],
        motion=[[(0.0, 0.0)]] * 8,
    )  # fmt: skip
    assert timeline.cuts == [5]
    assert timeline.in_band_candidates() == {(1, 0), (5, 0), (0, 1)}
    assert timeline.in_band_candidates(intervals=(1,)) == {(0, 1)}


@pytest.mark.parametrize("size", [(641, 360), (640, 361)])
def test_odd_size_is_refused(tmp_path, size):
    with pytest.raises(ValueError, match="even"):
        render_clip(tmp_path / "odd.mp4", size=size, seconds=0.5)
    assert not list(tmp_path.iterdir())


def test_missing_folders_are_created(tmp_path):
    out = tmp_path / "new" / "folder" / "clip.mp4"
    render_clip(out, size=(64, 36), seconds=0.5)
    assert out.is_file() and out.with_suffix(".timeline.json").is_file()


def test_ffmpeg_failure_is_reported(tmp_path):
    out = tmp_path / "clip.unknown-container"
    with pytest.raises(RuntimeError, match="ffmpeg failed"):
        render_clip(out, size=(64, 36), seconds=0.5)
    assert not out.exists() and not list(tmp_path.glob(".tmp-*"))
