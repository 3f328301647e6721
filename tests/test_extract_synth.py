"""Extraction of synthetic clips whose truth is known from their timeline."""

import itertools
from collections import Counter

import pyarrow.parquet as pq
import pytest

from atdkit import schema
from atdkit.store import Dataset
from helpers import run_cli


def extract(clip, out, *options):
    result = run_cli("extract", "--videos", clip, "--out", out, *options)
    assert result.returncode == 0, result.stderr
    return pq.read_table(out / "triplets.parquet", schema=schema.TRIPLETS).to_pylist()


def test_band_filter_keeps_exactly_the_triplets_of_three_drawings_in_one_shot(synth_clip, tmp_path):
    clip, timeline = synth_clip
    kept = extract(clip, tmp_path / "ds", "--min-gap", "0", "--min-change", "0")
    assert {(t["frames"][0], t["interval"]) for t in kept} == timeline.in_band_candidates()
    for t in kept:
        drawings = [timeline.drawing[i] for i in t["frames"]]
        assert len(set(drawings)) == 3, "a held drawing gives no triplet"
        assert len({timeline.shot[i] for i in t["frames"]}) == 1, "no triplet spans a cut"
        assert t["timestamps"] == pytest.approx([i / timeline.fps for i in t["frames"]], abs=1e-3)


def test_intervals_option_samples_only_those_strides(synth_clip, tmp_path):
    clip, timeline = synth_clip
    kept = extract(clip, tmp_path / "ds", "--intervals", "1", "--min-gap", "0", "--min-change", "0")
    assert {(t["frames"][0], t["interval"]) for t in kept} == timeline.in_band_candidates(intervals=(1,))


def test_default_redundancy_policy_spaces_kept_triplets_and_records_why(synth_clip, tmp_path):
    clip, timeline = synth_clip
    out = tmp_path / "ds"
    kept = extract(clip, out)
    truth = timeline.in_band_candidates()
    starts = [t["frames"][0] for t in kept]
    assert set((t["frames"][0], t["interval"]) for t in kept) <= truth
    assert all(b - a >= 12 for a, b in zip(starts, starts[1:]))
    verdicts = pq.read_table(out / "cache" / "cartoon" / "candidates.parquet", schema=schema.CANDIDATES).to_pylist()
    assert len(verdicts) == sum(timeline.frame_count - 2 * s > 0 and timeline.frame_count - 2 * s for s in (1, 2, 3))
    for row in verdicts:
        key = (row["start"], row["interval"])
        assert row["verdict"] in (("kept", "redundant") if key in truth else ("too_similar", "too_different")), row
    source = pq.read_table(out / "sources.parquet", schema=schema.SOURCES).to_pylist()[0]
    assert source["rejected_redundant"] == len(truth) - len(kept) > 0


def test_shots_and_how_drawings_are_held_match_the_timeline(synth_clip, tmp_path):
    clip, timeline = synth_clip
    out = tmp_path / "ds"
    extract(clip, out)
    shots = Dataset(out).rows("shots")
    assert [(s["start"], s["stop"]) for s in shots] == list(
        zip([0, *timeline.cuts], [*timeline.cuts, timeline.frame_count], strict=True)
    )
    everything = Counter()
    for shot in shots:
        shown = timeline.drawing[shot["start"] : shot["stop"]]
        holds = Counter(min(len(list(run)), 4) for _, run in itertools.groupby(shown))
        everything += holds
        assert shot["drawings"] == sum(holds.values())
        assert [shot[f"on_{n}"] for n in ("ones", "twos", "threes", "longer")] == pytest.approx(
            [holds[k] / sum(holds.values()) for k in (1, 2, 3, 4)]
        )
    [source] = Dataset(out).rows("sources")
    assert source["shots"] == len(shots) and source["drawings"] == len(set(timeline.drawing))
    assert source["on_twos"] == pytest.approx(everything[2] / sum(everything.values()))
    assert everything[2] > everything[1]  # the clip is mostly on twos and threes

    refiltered = run_cli("extract", "--refilter", out, "--ssim-high", "0.94")  # from the cache: the shots again
    assert refiltered.returncode == 0, refiltered.stderr
    assert Dataset(out).rows("shots") == shots
    extract(clip, tmp_path / "split", "--split-frames", "50")  # scanned in frame ranges, joined: the same shots
    assert Dataset(tmp_path / "split").rows("shots") == shots
