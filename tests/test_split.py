"""``atdkit split``: source- or series-exclusive, deterministic, stratified by human difficulty."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from atdkit import schema
from atdkit.cli import main
from atdkit.pipelines.statistics.split import check_exclusive, choose_split, summarise
from atdkit.store import write_table
from helpers import write_labels


def split(capsys, *args) -> tuple[int, str]:
    """``atdkit split ARGS`` in this process; stderr as words, without the tables' box drawing."""
    status = main(["split", *map(str, args)])
    err = capsys.readouterr().err
    return status, " ".join("".join(" " if 0x2500 <= ord(c) <= 0x257F else c for c in err).split())


def copy_dataset(dataset: Path, to: Path) -> Path:
    shutil.copytree(dataset, to, ignore=shutil.ignore_patterns(".lock"))
    return to


def tables(dataset: Path) -> tuple[pa.Table, pa.Table]:
    return (
        pq.read_table(dataset / "triplets.parquet", schema=schema.TRIPLETS),
        pq.read_table(dataset / "splits.parquet", schema=schema.SPLITS),
    )


def test_source_split_is_exclusive_and_deterministic(cartoon_dataset, tmp_path, capsys):
    dataset = copy_dataset(cartoon_dataset, tmp_path / "dataset")
    status, err = split(capsys, dataset, "--test-fraction", "0.25", "--seed", "3")
    assert status == 0, err
    triplets, splits = tables(dataset)
    assert sorted(splits["triplet_id"].to_pylist()) == sorted(triplets["triplet_id"].to_pylist())
    assert set(splits["split"].to_pylist()) == {"train", "test"}
    assert check_exclusive(triplets, splits, "source") == []
    side_of = dict(zip(splits["triplet_id"].to_pylist(), splits["split"].to_pylist()))
    by_source: dict[str, set] = {}
    for triplet_id, source in zip(triplets["triplet_id"].to_pylist(), triplets["source_id"].to_pylist()):
        by_source.setdefault(source, set()).add(side_of[triplet_id])
    assert all(len(sides) == 1 for sides in by_source.values()) and len(by_source) == 4
    test_sources = sorted(s for s, sides in by_source.items() if sides == {"test"})
    assert len(test_sources) == 1, "a quarter of four films"
    assert f"test {Counter(side_of.values())['test']}" in err and test_sources[0] in err

    first = splits.to_pylist()
    assert split(capsys, dataset, "--test-fraction", "0.25", "--seed", "3")[0] == 0
    assert tables(dataset)[1].to_pylist() == first, "the same seed gives the same split"


def test_series_split_keeps_every_series_on_one_side(cartoon_dataset, tmp_path, capsys):
    dataset = copy_dataset(cartoon_dataset, tmp_path / "dataset")
    for seed in range(4):
        status, err = split(capsys, dataset, "--by", "series", "--test-fraction", "0.3", "--seed", seed)
        assert status == 0, err
        triplets, splits = tables(dataset)
        assert check_exclusive(triplets, splits, "series") == []
        side_of = dict(zip(splits["triplet_id"].to_pylist(), splits["split"].to_pylist()))
        alpha = {
            side_of[t]
            for t, s in zip(triplets["triplet_id"].to_pylist(), triplets["series"].to_pylist())
            if s == "alpha"
        }
        assert len(alpha) == 1, "film_0 and film_1 (series alpha) stay together"


def test_a_split_that_cannot_be_exclusive_is_refused(cartoon_dataset, tmp_path, capsys):
    dataset = copy_dataset(cartoon_dataset, tmp_path / "dataset")
    triplets = pq.read_table(dataset / "triplets.parquet", schema=schema.TRIPLETS)
    one_series = triplets.set_column(
        triplets.schema.get_field_index("series"), "series", pa.array(["alpha"] * triplets.num_rows)
    )
    write_table(dataset / "triplets.parquet", one_series, schema.TRIPLETS)
    status, err = split(capsys, dataset, "--by", "series")
    assert status == 2
    assert f"all {triplets.num_rows} triplets come from one series (alpha)" in err and "--series" in err

    film_0 = triplets.filter(pa.compute.equal(triplets["source_id"], "film_0"))
    write_table(dataset / "triplets.parquet", film_0, schema.TRIPLETS)
    status, err = split(capsys, dataset)
    assert status == 2
    assert (
        f"{dataset}: all {film_0.num_rows} triplets come from one source (film_0): "
        "a split with no source on both sides needs at least two"
    ) in err
    status, err = split(capsys, cartoon_dataset, "--test-fraction", "1.5")
    assert status == 2 and err.endswith("--test-fraction must be between 0 and 1 (exclusive), got 1.5")
    assert "no such file (run atdkit extract first)" in split(capsys, tmp_path)[1]
    assert not (dataset / "splits.parquet").exists()


def many_films(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """40 films of 5 to 40 triplets; each film leans to one difficulty; a fifth of triplets unlabelled."""
    rng = np.random.default_rng(seed)
    groups, levels = [], []
    for film in range(40):
        size, lean = int(rng.integers(5, 41)), rng.dirichlet([0.5, 0.5, 0.5])
        groups += [f"film_{film}"] * size
        levels += [int(rng.choice(3, p=lean)) if rng.random() > 0.2 else -1 for _ in range(size)]
    return np.array(groups, dtype=object), np.array(levels)


def difficulty_mix(levels: np.ndarray) -> np.ndarray:
    known = levels[levels >= 0]
    return np.bincount(known, minlength=3) / len(known)


def test_split_is_stratified_by_human_difficulty_and_seeded():
    groups, levels = many_films()
    test = choose_split(groups, levels, 0.2, seed=0)
    assert not set(groups[test]) & set(groups[~test])
    assert test.mean() == pytest.approx(0.2, abs=0.02)
    assert np.abs(difficulty_mix(levels[test]) - difficulty_mix(levels[~test])).sum() / 2 < 0.05
    unstratified = choose_split(groups, np.full(len(groups), -1), 0.2, seed=0)
    assert np.abs(difficulty_mix(levels[unstratified]) - difficulty_mix(levels[~unstratified])).sum() / 2 > 0.05
    assert np.array_equal(choose_split(groups, levels, 0.2, seed=0), test)
    assert len({choose_split(groups, levels, 0.2, seed=s).tobytes() for s in range(4)}) > 1, "the seed matters"


def test_printed_summary_has_each_sides_difficulties_and_tags(cartoon_dataset, tmp_path, capsys):
    dataset = copy_dataset(cartoon_dataset, tmp_path / "dataset")
    triplets = pq.read_table(dataset / "triplets.parquet", schema=schema.TRIPLETS)
    ids = triplets["triplet_id"].to_pylist()
    difficulty = {t: schema.DIFFICULTIES[i % 3] for i, t in enumerate(ids[::2])}
    write_labels(
        dataset, difficulty, {t: ["translation"] if i % 2 else ["rotation", "scaling"] for i, t in enumerate(ids[::2])}
    )
    status, err = split(capsys, dataset, "--test-fraction", "0.5")
    assert status == 0, err
    assert "easy medium hard unlabelled" in err and "motion tags per side (human labels)" in err
    sides = summarise(
        triplets,
        pq.read_table(dataset / "splits.parquet", schema=schema.SPLITS),
        pq.read_table(dataset / "labels.parquet", schema=schema.LABELS),
        "source",
    )
    assert sum(s.triplets for s in sides) == len(ids)
    assert sum(s.difficulties["unlabelled"] for s in sides) == len(ids) - len(difficulty)
    for level in schema.DIFFICULTIES:
        assert sum(s.difficulties[level] for s in sides) == list(difficulty.values()).count(level)
    assert sum(s.tags["rotation"] for s in sides) == len(ids[::2][0::2])
    for side in sides:
        row = [side.side, str(side.triplets), f"{side.share:.1%}"]
        assert " ".join(row) in err
