"""``atdkit manifest`` and ``atdkit rebuild``: a dataset shared without frames and made again, byte for byte,
from renamed copies of its films; another container of the same stream is found by its frames; another
encode, a missing film and a damaged release are listed, never used."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import av
import pyarrow.parquet as pq
import pytest

from atdkit import schema
from atdkit.store import Dataset, write_table
from helpers import run_cli, shared

HERO = ("clips", "hero_grease_pencil_twos.webm")


@pytest.fixture(scope="module")
def extracted(tmp_path_factory, synth_clip) -> tuple[Path, list[Path]]:
    """A dataset from a real clip and a generated one, with a split; the films it was made from."""
    root = tmp_path_factory.mktemp("release")
    films = [shared(*HERO), synth_clip[0]]
    assert run_cli("extract", "--videos", *films, "--out", root / "dataset", "--workers", "1").returncode == 0
    dataset = Dataset(root / "dataset")
    ids = [row["triplet_id"] for row in dataset.rows("triplets")]
    sides = [{"triplet_id": tid, "split": "test" if n % 3 == 0 else "train"} for n, tid in enumerate(ids)]
    dataset.write("splits", sides)
    assert run_cli("manifest", root / "dataset", "--out", root / "release").returncode == 0
    return root, films


def copies(folder: Path, films: list[Path], suffix: str = "") -> Path:
    folder.mkdir()
    for number, film in enumerate(films):
        shutil.copyfile(film, folder / f"my_copy_{number}{suffix or film.suffix}")
    return folder


def remux(film: Path, out: Path) -> Path:
    """The same video stream, packet for packet, in another container."""
    with av.open(str(film)) as source, av.open(str(out), "w") as target:
        stream = target.add_stream_from_template(source.streams.video[0])
        for packet in source.demux(source.streams.video[0]):
            if packet.dts is not None:
                packet.stream = stream
                target.mux(packet)
    return out


def reencode(film: Path, out: Path) -> Path:
    """The same pictures through another H.264 encode."""
    with av.open(str(film)) as source, av.open(str(out), "w") as target:
        decoded = source.streams.video[0]
        stream = target.add_stream("libx264", rate=decoded.average_rate, options={"crf": "28"})
        stream.width, stream.height, stream.pix_fmt = decoded.width, decoded.height, "yuv420p"
        for frame in source.decode(decoded):
            frame.pts = None
            target.mux(stream.encode(frame))
        target.mux(stream.encode())
    return out


def test_release_holds_no_frame_and_proves_each(extracted):
    root, films = extracted
    release = root / "release"
    assert not list(release.rglob("*.png"))
    facts = json.loads((release / "manifest.json").read_text())
    assert {"pyav", "ffmpeg", "opencv"} <= set(facts["versions"])
    sources = pq.read_table(release / "sources.parquet").to_pylist()
    assert {row["path"] for row in sources} == {film.name for film in films}  # no private folders
    hashes = pq.read_table(release / "frames.parquet").to_pylist()
    triplets = Dataset(root / "dataset").rows("triplets")
    assert len(hashes) == len(triplets) > 20
    assert all(len(row["png_sha256"]) == 3 and len(row["png_sha256"][0]) == 64 for row in hashes)


def test_rebuild_from_renamed_copies_is_byte_identical(extracted, tmp_path):
    root, films = extracted
    mine = copies(tmp_path / "mine", films)
    ran = run_cli("rebuild", root / "release", "--videos", mine, "--out", tmp_path / "rebuilt")
    assert ran.returncode == 0, ran.stderr
    assert "matched by content hash" in ran.stderr
    original, rebuilt = root / "dataset", tmp_path / "rebuilt"
    pngs = sorted(path.relative_to(original) for path in (original / "frames").rglob("*.png"))
    assert pngs == sorted(path.relative_to(rebuilt) for path in (rebuilt / "frames").rglob("*.png"))
    assert all((original / png).read_bytes() == (rebuilt / png).read_bytes() for png in pngs)
    for table in ("triplets.parquet", "splits.parquet"):
        assert (original / table).read_bytes() == (rebuilt / table).read_bytes()
    sources = Dataset(rebuilt).rows("sources")
    assert {Path(row["path"]).parent for row in sources} == {mine.resolve()}
    assert {row["status"] for row in Dataset(rebuilt).rows("rebuilt")} == {"verified"}


def test_other_container_is_found_by_its_frames_and_another_encode_is_listed_not_used(extracted, tmp_path):
    root, films = extracted
    mine = tmp_path / "mine"
    mine.mkdir()
    remux(films[0], mine / "hero.mkv")
    reencode(films[1], mine / "cartoon_again.mp4")
    ran = run_cli("rebuild", root / "release", "--videos", mine, "--out", tmp_path / "rebuilt")
    assert ran.returncode == 1
    rows = Dataset(tmp_path / "rebuilt").rows("rebuilt")
    hero, cartoon = films[0].stem, films[1].stem
    assert {row["status"] for row in rows if row["source_id"] == hero} == {"verified"}
    assert "hero.mkv (matched by frames)" in ran.stderr
    assert {row["status"] for row in rows if row["source_id"] == cartoon} == {"different encode"}
    assert "cartoon_again.mp4 looks like this film" in ran.stderr
    kept = {row["triplet_id"] for row in Dataset(tmp_path / "rebuilt").rows("triplets")}
    assert kept == {row["triplet_id"] for row in rows if row["status"] == "verified"}
    assert sorted(path.name for path in (tmp_path / "rebuilt" / "frames").iterdir()) == sorted(kept)


def test_missing_film_is_added_by_a_later_run_without_redoing_the_rest(extracted, tmp_path):
    root, films = extracted
    out = tmp_path / "rebuilt"
    first = run_cli("rebuild", root / "release", "--videos", copies(tmp_path / "one", films[:1]), "--out", out)
    assert first.returncode == 1 and "missing film" in first.stderr
    hero_frames = {path: path.stat().st_mtime_ns for path in (out / "frames").rglob("*.png")}
    second = run_cli("rebuild", root / "release", "--videos", copies(tmp_path / "other", films[1:]), "--out", out)
    assert second.returncode == 0, second.stderr
    assert {path: path.stat().st_mtime_ns for path in hero_frames} == hero_frames  # the film done first is kept
    assert (out / "triplets.parquet").read_bytes() == (root / "dataset" / "triplets.parquet").read_bytes()


def test_a_frame_that_differs_from_the_release_is_left_out_with_why(extracted, tmp_path):
    root, films = extracted
    release = tmp_path / "release"
    shutil.copytree(root / "release", release)
    rows = pq.read_table(release / "frames.parquet").to_pylist()
    rows[0]["png_sha256"][1] = "0" * 64
    write_table(release / "frames.parquet", rows, schema.RELEASE_FRAMES)
    ran = run_cli("rebuild", release, "--videos", *films, "--out", tmp_path / "rebuilt")
    assert ran.returncode == 1
    assert f"{rows[0]['triplet_id']}: differs: frame2.png: sha256 differs" in ran.stderr
    assert not (tmp_path / "rebuilt" / "frames" / rows[0]["triplet_id"]).exists()


def test_bad_input_is_one_line(extracted, tmp_path):
    root, films = extracted
    ran = run_cli("rebuild", tmp_path, "--videos", *films, "--out", tmp_path / "rebuilt")
    assert ran.returncode == 2 and ran.stderr.count("\n") == 1 and "not an atdkit release" in ran.stderr
    damaged = tmp_path / "damaged"
    shutil.copytree(root / "dataset", damaged)
    victim = next((damaged / "frames").iterdir()) / "frame3.png"
    victim.unlink()
    ran = run_cli("manifest", damaged, "--out", tmp_path / "release")
    assert ran.returncode == 2 and str(victim) in ran.stderr and ran.stderr.count("\n") == 1
