"""``atdkit audit``: near-duplicates of real copies of one film and of a re-encoded clip, leakage, split, --dedup."""

from __future__ import annotations

import shutil
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from atdkit import schema
from atdkit.cli import main
from atdkit.pipelines.audit.index import brute_force_pairs, near_pairs
from atdkit.pipelines.extraction.synth import render_clip
from atdkit.pipelines.statistics.split import check_exclusive
from atdkit.store import Dataset, read_table
from helpers import one_error, run_cli, shared

COPIES = ("copying_is_not_theft_32s", "copying_is_not_theft_truncated")  # the same film: a whole file and a cut one


def reencode(clip: Path, out: Path, size: tuple[int, int], gain: tuple[float, float, float], offset: float) -> None:
    """``clip`` decoded, resized, colour-shifted (per-channel gain, then a brightness offset) and encoded again."""
    with av.open(str(clip)) as source, av.open(str(out), "w") as target:
        stream = source.streams.video[0]
        encoder = target.add_stream("libx264", rate=stream.average_rate)
        encoder.width, encoder.height, encoder.pix_fmt, encoder.options = *size, "yuv420p", {"crf": "23"}
        for frame in source.decode(stream):
            rgb = cv2.resize(frame.to_ndarray(format="rgb24"), size, interpolation=cv2.INTER_AREA).astype(np.float32)
            shifted = np.clip(rgb * np.array(gain, np.float32) + offset, 0, 255).astype(np.uint8)
            for packet in encoder.encode(av.VideoFrame.from_ndarray(shifted, format="rgb24")):
                target.mux(packet)
        for packet in encoder.encode():
            target.mux(packet)


@pytest.fixture(scope="module")
def audited(tmp_path_factory) -> Path:
    """The two real copies, a generated clip, its re-encoded copy (smaller, colour-shifted) and another
    generated clip, extracted into one dataset and audited. Read-only: copy it before changing it."""
    folder = tmp_path_factory.mktemp("audit")
    clips = [shared("clips", f"{name}.mp4") for name in COPIES]
    for seed, name in ((21, "cartoon"), (22, "other")):
        clips.append(folder / f"{name}.mp4")
        render_clip(clips[-1], seed=seed, size=(320, 180), seconds=4)
    clips.append(folder / "cartoon_copy.mp4")
    reencode(folder / "cartoon.mp4", clips[-1], (256, 144), (1.1, 1.0, 0.9), -20)
    dataset = folder / "dataset"
    extracted = run_cli("extract", "--videos", *clips, "--out", dataset, "--resize", "320x180", "--workers", "2")
    assert extracted.returncode == 0 and "partial file" in extracted.stderr  # the cut copy: its decodable part
    result = run_cli("audit", dataset)
    assert result.returncode == 0 and "no split yet" in result.stderr, result.stderr
    return dataset


def copy_of(dataset: Path, to: Path) -> Path:
    shutil.copytree(dataset, to, ignore=shutil.ignore_patterns(".lock"))
    return to


def content_group(dataset: Path) -> dict[str, int]:
    table = Dataset(dataset).read("source_groups", required=True)
    return dict(zip(table["source_id"].to_pylist(), table["content_group"].to_pylist()))


def test_copies_of_one_film_form_one_content_group(audited):
    groups = content_group(audited)
    assert groups[COPIES[0]] == groups[COPIES[1]]
    assert groups["cartoon"] == groups["cartoon_copy"], "re-encoded at another size with a colour shift"
    assert len({groups[COPIES[0]], groups["cartoon"], groups["other"]}) == 3, "different films are not grouped"
    dataset = Dataset(audited)
    duplicates = {r["triplet_id"]: r for r in dataset.rows("duplicates")}
    ids = set(dataset.read("triplets")["triplet_id"].to_pylist())
    same_frames = [t for t in ids if t.startswith(COPIES[0]) and t.replace(*COPIES) in ids]
    assert len(same_frames) == 52  # the cut copy decodes the same first 32 s, so extraction keeps the same triplets
    for triplet_id in same_frames:
        twin = duplicates[triplet_id.replace(*COPIES)]
        assert duplicates[triplet_id]["group"] == twin["group"] and twin["distance"] == 0
    reencoded = [t for t in ids if t.startswith("cartoon_") and t.replace("cartoon", "cartoon_copy") in ids]
    assert len(reencoded) >= 4
    for triplet_id in reencoded:
        twin = duplicates[triplet_id.replace("cartoon", "cartoon_copy")]
        assert duplicates[triplet_id]["group"] == twin["group"] and twin["distance"] <= 10
    assert not any(t.startswith("other") for t in duplicates), "no near-duplicate of a different clip"


def test_index_finds_every_pair_a_comparison_of_all_pairs_finds():
    rng = np.random.default_rng(0)
    signatures = rng.integers(0, 1 << 63, (2000, 3), dtype=np.uint64)
    for a, b in rng.integers(0, 2000, (300, 2)):  # planted near-duplicates at 0-20 bits
        flips = rng.choice(192, rng.integers(0, 21), replace=False)
        signatures[b] = signatures[a] ^ np.array(
            [
                np.bitwise_or.reduce(np.uint64(1) << (flips[flips // 64 == k] % 64).astype(np.uint64), initial=0)
                for k in range(3)
            ],
            np.uint64,
        )
    for threshold in (5, 12, 20):
        found, truth = near_pairs(signatures, threshold), brute_force_pairs(signatures, threshold)
        assert len(truth[0]) > 50 and all(np.array_equal(x, y) for x, y in zip(found, truth)), threshold


def test_split_keeps_content_groups_on_one_side(audited, tmp_path, capsys):
    dataset = copy_of(audited, tmp_path / "dataset")
    groups = content_group(dataset)
    for seed in range(3):
        status = main(["split", str(dataset), "--test-fraction", "0.3", "--seed", str(seed)])
        err = capsys.readouterr().err
        assert status == 0, err
        assert "kept on one side, sharing content (atdkit audit): cartoon + cartoon_copy" in " ".join(err.split())
        triplets, splits = Dataset(dataset).read("triplets"), Dataset(dataset).read("splits")
        assert check_exclusive(triplets, splits, "source", groups) == []
        assert "warning:" in err and "holds" in err  # the copies of the real film are far more than 70%
        assert run_cli("audit", dataset).returncode == 0
    only_copies = copy_of(audited, tmp_path / "copies")
    table = Dataset(only_copies).read("triplets")
    Dataset(only_copies).write("triplets", table.filter(np.isin(table["source_id"].to_numpy(False), COPIES)))
    err = one_error(capsys, "split", only_copies)
    assert "belong to one content group" in err and "atdkit audit" in err


def test_a_straddling_split_is_leakage(audited, tmp_path):
    dataset = copy_of(audited, tmp_path / "dataset")
    triplets = Dataset(dataset).read("triplets")
    sides = ["test" if s == COPIES[1] else "train" for s in triplets["source_id"].to_pylist()]
    Dataset(dataset).write(
        "splits", [{"triplet_id": t, "split": s} for t, s in zip(triplets["triplet_id"].to_pylist(), sides)]
    )
    result = run_cli("audit", dataset)
    assert result.returncode == 1, result.stderr
    err = " ".join(result.stderr.split())
    assert "near-duplicate pair(s) straddle the split" in err
    assert f"{COPIES[0]}_000018_i1" in err and f"{COPIES[1]}_000018_i1" in err  # a leaking pair named
    assert "0 hashed" in err, "signatures come from the cache"


def test_dedup_sets_duplicates_aside_as_rejections(audited, tmp_path):
    dataset = copy_of(audited, tmp_path / "dataset")
    before = Dataset(dataset).read("triplets")["triplet_id"].to_pylist()
    result = run_cli("audit", dataset, "--dedup")
    assert result.returncode == 0, result.stderr
    after = set(Dataset(dataset).read("triplets")["triplet_id"].to_pylist())
    aside = sorted(set(before) - after)
    assert {t.rsplit("_", 2)[0] for t in aside} == {COPIES[1], "cartoon_copy"}, "one film's triplets kept per group"
    assert all(t.startswith(COPIES[1]) for t in aside if t.startswith("copying")) and len(aside) >= 52
    for source in (COPIES[1], "cartoon_copy"):
        cache = Dataset(dataset).source_cache(source)
        verdicts = read_table(cache / "candidates.parquet", schema.CANDIDATES)["verdict"].to_pylist()
        kept = read_table(cache / "triplets.parquet", schema.TRIPLETS)["triplet_id"].to_pylist()
        assert verdicts.count(schema.DUPLICATE_VERDICT) == sum(t.rsplit("_", 2)[0] == source for t in aside)
        assert not set(kept) & set(aside)
    assert all((dataset / "frames" / t / "frame2.png").is_file() for t in aside), "nothing deleted"
    assert run_cli("audit", dataset).returncode == 0
    regrouped = content_group(dataset)
    assert regrouped[COPIES[0]] != regrouped[COPIES[1]], "no shared content left"


def test_bad_input_is_one_line(tmp_path, capsys):
    assert "no such dataset folder" in one_error(capsys, "audit", tmp_path / "absent")
    tmp_path.joinpath("empty").mkdir()
    assert "run atdkit extract first" in one_error(capsys, "audit", tmp_path / "empty")
    assert "--threshold must be at least 0" in one_error(capsys, "audit", tmp_path / "empty", "--threshold", "-1")
