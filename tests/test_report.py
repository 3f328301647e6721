"""``atdkit report``: a self-contained HTML page, checked in a real headless Chromium."""

from __future__ import annotations

import shutil
from html.parser import HTMLParser
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from atdkit import schema
from atdkit.cli import main
from helpers import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, run_cli, write_labels

SECTIONS = ("overview", "sources", "selection", "motion", "labels", "split", "duplicates", "samples")


def report(capsys, *args) -> tuple[int, str]:
    status = main(["report", *map(str, args)])
    return status, " ".join(capsys.readouterr().err.split())


@pytest.fixture(scope="module")
def full_dataset(cartoon_dataset, tmp_path_factory) -> Path:
    """The cartoon dataset measured, two thirds labelled (difficulty and tags), and split."""
    dataset = tmp_path_factory.mktemp("full") / "dataset"
    shutil.copytree(cartoon_dataset, dataset, ignore=shutil.ignore_patterns(".lock"))
    assert run_cli("stats", dataset, "--workers", "2").returncode == 0
    ids = pq.read_table(dataset / "triplets.parquet", schema=schema.TRIPLETS)["triplet_id"].to_pylist()
    labelled = [t for i, t in enumerate(ids) if i % 3]
    write_labels(
        dataset,
        {t: schema.DIFFICULTIES[i % 3] for i, t in enumerate(labelled)},
        {t: [schema.GENERAL_MOTIONS[i % 4]] for i, t in enumerate(labelled)},
    )
    assert main(["split", str(dataset)]) == 0
    return dataset


class Document(HTMLParser):
    """Section ids, their text, and every image source of an HTML page."""

    def __init__(self, text: str):
        super().__init__()
        self.sections: dict[str, str] = {}
        self.images: list[str] = []
        self.links: list[str] = []
        self._current = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "section":
            self._current = attrs["id"]
            self.sections[self._current] = ""
        elif tag == "img":
            self.images.append(attrs["src"])
        elif tag in ("link", "script"):
            self.links.append(tag)

    def handle_data(self, data):
        if self._current:
            self.sections[self._current] += data


@pytest.mark.slow
def test_report_renders_in_a_real_browser(full_dataset):
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent (Debian's chromium package)")
    playwright = pytest.importorskip("playwright.sync_api")
    result = run_cli("report", full_dataset)
    assert result.returncode == 0, result.stderr
    page_path = full_dataset / "report.html"
    document = Document(page_path.read_text())
    assert list(document.sections) == list(SECTIONS)
    assert not document.links and all(src.startswith("data:image/") for src in document.images), "self-contained"
    assert (
        "quadratic-weighted kappa" in document.sections["labels"]
        and "No source is on both sides" in document.sections["split"]
    )
    for level in schema.DIFFICULTIES:
        assert f"{level} (" in document.sections["samples"]

    ARTIFACTS.mkdir(exist_ok=True)
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            requests = []
            page.on("request", lambda request: requests.append(request.url))
            page.goto(page_path.as_uri())
            page.wait_for_load_state("load")
            for section in SECTIONS:
                assert page.locator(f"section#{section} h2").is_visible()
            widths = page.evaluate("Array.from(document.images, image => image.complete ? image.naturalWidth : 0)")
            assert len(widths) == len(document.images) >= 2 + 3, "SSIM and motion figures and a sample per difficulty"
            assert all(width > 0 for width in widths), widths
            assert page.locator("#samples img.triplet").count() >= 3
            assert all(url.startswith(("file:", "data:")) for url in requests), requests
            page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)
        finally:
            browser.close()
    assert (ARTIFACTS / "report.png").stat().st_size > 10_000


def test_sections_without_data_say_how_to_get_it(cartoon_dataset, tmp_path, capsys):
    out = tmp_path / "page" / "bare.html"
    status, err = report(capsys, cartoon_dataset, "--out", out, "--samples", "2")
    assert status == 0 and f"wrote {out}" in err
    document = Document(out.read_text())
    assert list(document.sections) == list(SECTIONS), "sections with no data are not dropped"
    assert f"No motion statistics yet: run atdkit stats {cartoon_dataset}" in document.sections["motion"]
    assert (
        f"No labels yet: label the triplets with atdkit annotate {cartoon_dataset}, "
        f"then run atdkit consolidate {cartoon_dataset}."
    ) in document.sections["labels"]
    assert f"No split yet: run atdkit split {cartoon_dataset}" in document.sections["split"]
    assert "unrated (" in document.sections["samples"] and "No easy triplet yet." in document.sections["samples"]
    assert len(document.images) == 1 + 2, "SSIM histograms and two unrated samples"
    assert not (cartoon_dataset / "report.html").exists()


def test_bad_input_is_one_line(tmp_path, capsys):
    status, err = report(capsys, tmp_path)
    assert (
        status == 2
        and err == f"atdkit report: error: {tmp_path / 'triplets.parquet'}: no such file (run atdkit extract first)"
    )
    (tmp_path / "triplets.parquet").write_bytes(b"PAR1 not really")
    status, err = report(capsys, tmp_path)
    assert status == 2 and f"{tmp_path / 'triplets.parquet'}: not a readable triplets table" in err
