from pathlib import Path

from atdkit.pipelines.extraction.films import expand_paths, identify, read_series_map, safe_id


def make(path: Path, content: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def test_paths_folders_and_globs_expand_to_unique_files(tmp_path):
    a = make(tmp_path / "films" / "a.mp4", b"a")
    b = make(tmp_path / "films" / "deep" / "b.mkv", b"b")
    make(tmp_path / "films" / "notes.txt", b"n")
    files, errors = expand_paths(
        [str(tmp_path / "films"), str(tmp_path / "films" / "*.mp4"), str(tmp_path / "none*.mp4")]
    )
    assert sorted(files) == sorted([a.resolve(), b.resolve()])
    assert errors == [f"{tmp_path / 'none*.mp4'}: no file matches this pattern"]


def test_source_ids_are_stems_made_unique_by_content(tmp_path):
    first = make(tmp_path / "x" / "Episode 1 (HD).mp4", b"one")
    same_stem = make(tmp_path / "y" / "Episode 1 (HD).mp4", b"two")
    copy = make(tmp_path / "z" / "copy.mp4", b"one")
    films, notes = identify([first, same_stem, copy], known={})
    assert [f.source_id for f in films] == ["Episode-1-HD", f"Episode-1-HD-{films[1].content_hash[:8]}"]
    assert notes == [f"{copy}: same content as {first}, skipped"]
    # A film already in the dataset keeps its id when moved; another film with its stem does not take it.
    known = {"Episode-1-HD": (str(tmp_path / "old" / "Episode 1 (HD).mp4"), films[0].content_hash)}
    again, _ = identify([same_stem], known)
    assert again[0].source_id.startswith("Episode-1-HD-")
    moved, _ = identify([first], known)
    assert moved[0].source_id == "Episode-1-HD"


def test_series_from_a_name_or_a_csv_map(tmp_path):
    a = make(tmp_path / "a.mp4", b"a")
    b = make(tmp_path / "b.mp4", b"b")
    mapping = tmp_path / "series.csv"
    mapping.write_text(f"path,series\n{a},Ghibli\n")
    films, _ = identify([a, b], {}, series="Misc", series_map=read_series_map(mapping))
    assert [f.series for f in films] == ["Ghibli", "Misc"]
    assert safe_id("../weird/..name") == "weird-..name"
