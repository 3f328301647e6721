"""Extraction of the real clips in ../shared/data/clips, checked against independent decoding."""

import cv2
import numpy as np
import pyarrow.parquet as pq
import pytest
from skimage.metrics import structural_similarity

from atdkit import schema
from helpers import SHARED_DATA, ffmpeg_decode, run_cli, shared

HERO_CUTS = (182, 230, 314)  # first frames of new shots, from the clip's README (about)

pytestmark = pytest.mark.slow  # every real clip extracted


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    clips = shared("clips")
    out = tmp_path_factory.mktemp("real") / "ds"
    result = run_cli("extract", "--videos", clips, "--out", out, "--workers", "2")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return out, result


def table(path, schema_):
    return pq.read_table(path, schema=schema_).to_pylist()


def test_every_film_gives_triplets_and_the_truncated_one_is_partial(dataset):
    out, result = dataset
    sources = {row["source_id"]: row for row in table(out / "sources.parquet", schema.SOURCES)}
    assert set(sources) == {
        "hero_grease_pencil_twos",
        "steamboat_willie_1928",
        "copying_is_not_theft_32s",
        "copying_is_not_theft_truncated",
    }
    triplets = table(out / "triplets.parquet", schema.TRIPLETS)
    for source_id, row in sources.items():
        assert row["kept"] == sum(t["source_id"] == source_id for t in triplets) > 0, source_id
        assert row["candidates"] == row["kept"] + sum(row[f"rejected_{r}"] for r in schema.REJECTION_REASONS)
        assert row["rejected_too_similar"] > 0 and row["rejected_too_different"] > 0
    truncated = sources["copying_is_not_theft_truncated"]
    assert truncated["status"] == "partial" and "Invalid NAL unit size" in truncated["error"]
    assert truncated["frame_count"] < truncated["expected_frames"] == 1430
    assert {r["status"] for k, r in sources.items() if k != "copying_is_not_theft_truncated"} == {"ok"}
    assert f"warning: {truncated['path']}: " in result.stderr


def test_kept_ssims_are_in_band_when_recomputed_independently(dataset):
    out, _ = dataset
    sources = {row["source_id"]: row for row in table(out / "sources.parquet", schema.SOURCES)}
    triplets = table(out / "triplets.parquet", schema.TRIPLETS)
    for source_id in ("hero_grease_pencil_twos", "steamboat_willie_1928"):
        source = sources[source_id]
        size = (source["analysis_width"], source["analysis_height"])
        planes = ffmpeg_decode(SHARED_DATA / "clips" / source["path"].split("/")[-1], "yuv420p")
        small = [cv2.resize(p, size, interpolation=cv2.INTER_AREA) for p in planes]
        for t in (t for t in triplets if t["source_id"] == source_id):
            a, b, c = (small[i] for i in t["frames"])
            for stored, (x, y) in zip((t["ssim_12"], t["ssim_23"], t["ssim_13"]), ((a, b), (b, c), (a, c))):
                recomputed = structural_similarity(
                    x, y, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255
                )
                assert recomputed == pytest.approx(stored, abs=1e-3)
                assert 0.75 - 1e-3 <= recomputed <= 0.95 + 1e-3


def test_saved_frames_equal_independently_decoded_frames(dataset):
    out, _ = dataset
    triplets = [
        t
        for t in table(out / "triplets.parquet", schema.TRIPLETS)
        if t["source_id"] == "copying_is_not_theft_truncated"
    ]
    decoded = ffmpeg_decode(shared("clips", "copying_is_not_theft_truncated.mp4"))
    for t in triplets:
        for number, index in enumerate(t["frames"], start=1):
            saved = cv2.cvtColor(
                cv2.imread(str(out / "frames" / t["triplet_id"] / f"frame{number}.png")), cv2.COLOR_BGR2RGB
            )
            np.testing.assert_array_equal(saved, decoded[index])
        assert (t["width"], t["height"]) == (640, 360)


def test_no_kept_triplet_spans_a_scene_cut(dataset):
    out, _ = dataset
    for t in table(out / "triplets.parquet", schema.TRIPLETS):
        if t["source_id"] == "hero_grease_pencil_twos":
            first, _, last = t["frames"]
            assert not any(first < cut <= last for cut in range(HERO_CUTS[0] - 2, HERO_CUTS[0] + 3)), t
            assert not any(first < cut <= last for cut in HERO_CUTS[1:]), t


def test_manifest_columns_and_triplet_folders(dataset):
    out, _ = dataset
    triplets = table(out / "triplets.parquet", schema.TRIPLETS)
    assert {t["interval"] for t in triplets} <= {0, 1, 2}
    for t in triplets:
        stride = t["interval"] + 1
        assert t["frames"] == [t["frames"][0], t["frames"][0] + stride, t["frames"][0] + 2 * stride]
        assert t["timestamps"] == sorted(t["timestamps"])
        assert sorted(p.name for p in (out / "frames" / t["triplet_id"]).iterdir()) == [
            "frame1.png",
            "frame2.png",
            "frame3.png",
        ]
    assert not list(out.rglob(".tmp-*"))


def test_shots_are_cut_where_the_films_cut_and_nowhere_else(dataset):
    out, _ = dataset
    starts = {}
    for shot in table(out / "shots.parquet", schema.SHOTS):
        starts.setdefault(shot["source_id"], []).append(shot["start"])
    assert starts == {
        "hero_grease_pencil_twos": [0, 114, *HERO_CUTS],  # 114: a cut to clouds the clip's README leaves out
        "copying_is_not_theft_32s": [0, 647],
        "copying_is_not_theft_truncated": [0, 647],
        "steamboat_willie_1928": [0],  # flicker and pulldown, no cut
    }
    sources = {row["source_id"]: row for row in table(out / "sources.parquet", schema.SOURCES)}
    assert sources["copying_is_not_theft_32s"]["on_ones"] > 0.9  # mostly on ones
    hero = sources["hero_grease_pencil_twos"]
    assert hero["on_twos"] == max(hero[f"on_{n}"] for n in ("ones", "twos", "threes", "longer"))


def test_pre_screening_flags_the_cards_and_dissolves_of_copying_is_not_theft_only(dataset):
    out, _ = dataset
    flagged = {t["triplet_id"]: t["flags"] for t in table(out / "triplets.parquet", schema.TRIPLETS) if t["flags"]}
    expected = {  # looked at: the FBI warning card fading out, the title card, the dissolve into the first scene
        "000018_i1": ["fade", "text_card"],
        "000032_i2": ["text_card"],
        "000044_i2": ["text_card"],
        "000057_i2": ["text_card"],
        "000078_i2": ["text_card"],
        "000099_i2": ["fade", "text_card"],
        "000112_i1": ["fade"],
    }
    copies = ("copying_is_not_theft_32s", "copying_is_not_theft_truncated")
    assert flagged == {f"{copy}_{key}": hints for copy in copies for key, hints in expected.items()}
