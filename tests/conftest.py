"""Shared fixtures: synthetic clips with known truth and a dataset extracted from them (helpers.py: the rest)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from atdkit.cli import main
from helpers import REPO


@pytest.fixture(scope="session", autouse=True)
def only_the_tests_weight_files_and_caches(tmp_path_factory):
    """Weight files are looked up in an empty folder, not the machine's ~/.cache/atdkit/weights, and
    caches are the session's own (subprocesses inherit both)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ATDKIT_WEIGHTS", str(tmp_path_factory.mktemp("weights")))
        patch.setenv("ATDKIT_CACHE", str(tmp_path_factory.mktemp("cache")))
        yield


@pytest.fixture(scope="session")
def synth_clip(tmp_path_factory) -> tuple[Path, object]:
    """A 6-second 640x360 synthetic cartoon clip and its timeline."""
    from atdkit.pipelines.extraction.synth import render_clip

    clip = tmp_path_factory.mktemp("synth") / "cartoon.mp4"
    return clip, render_clip(clip, seed=3)


@pytest.fixture(scope="session")
def cartoon_dataset(tmp_path_factory) -> Path:
    """A dataset extracted from four short synthetic clips (films film_0..film_3; series alpha,
    alpha, beta, gamma), about 24 triplets. Read-only: copy it before changing it."""
    from atdkit.pipelines.extraction.synth import render_clip

    folder = tmp_path_factory.mktemp("cartoon")
    clips = [folder / f"film_{i}.mp4" for i in range(4)]
    for i, clip in enumerate(clips):
        render_clip(clip, seed=11 + i, size=(320, 180), seconds=3)
    (folder / "series.csv").write_text("source_id,series\nfilm_0,alpha\nfilm_1,alpha\nfilm_2,beta\nfilm_3,gamma\n")
    assert (
        main(
            [
                "extract",
                "--videos",
                *map(str, clips),
                "--series-map",
                str(folder / "series.csv"),
                "--out",
                str(folder / "dataset"),
            ]
        )
        == 0
    )
    return folder / "dataset"


@pytest.fixture
def dataset(cartoon_dataset, tmp_path) -> Path:
    """A writable copy of ``cartoon_dataset``."""
    root = tmp_path / "dataset"
    shutil.copytree(cartoon_dataset, root)
    return root


@pytest.fixture
def ids(dataset) -> list[str]:
    """The triplet ids of ``dataset``."""
    from helpers import triplet_ids

    return triplet_ids(dataset)


@dataclass(frozen=True)
class Installed:
    """atdkit installed the plain (non-editable) way into a fresh virtual environment."""

    python: Path
    site_packages: Path
    before: frozenset[str]  # what site-packages held before atdkit was installed
    env: dict

    @property
    def package(self) -> Path:
        return self.site_packages / "atdkit"


@pytest.fixture(scope="session")
def installed_atdkit(tmp_path_factory) -> Installed:
    """``pip install .`` of a copy of the clone into a new venv (no dependencies: the venv sees this interpreter's)."""
    work = tmp_path_factory.mktemp("install")
    source = work / "atdkit-source"  # a copy: building writes build/ and *.egg-info beside the sources
    shutil.copytree(
        REPO, source, ignore=shutil.ignore_patterns(".git", "build", "*.egg-info", "__pycache__", "test-artifacts")
    )
    venv = work / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", venv], check=True, capture_output=True
    )
    python = venv / "bin" / "python"
    site_packages = Path(
        subprocess.run(
            [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    before = frozenset(p.name for p in site_packages.iterdir())
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    installed = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            python,
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            source,
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    assert installed.returncode == 0, installed.stderr[-3000:]
    return Installed(python, site_packages, before, env)
