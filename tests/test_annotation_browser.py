"""End to end in a real headless Chromium: two annotators label in two browsers, then ``atdkit consolidate``.

The app is started by ``atdkit annotate`` as a real server on 127.0.0.1; screenshots of each
page go to ``test-artifacts/`` at the repository root.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from atdkit import schema
from atdkit.pipelines.labels import annotations
from atdkit.store import read_table
from helpers import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, REPO, run_atdkit

CANVAS_WIDTH = 560  # the app's default RoI canvas width

pytestmark = pytest.mark.slow  # a real server and headless Chromium


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def serving(command: list, cwd: Path, log_path: Path, env: dict | None = None):
    """A Streamlit server started by ``command`` (which gets ``--port N`` or ``--server.port N`` appended by the
    caller through ``{port}``), running until the block ends; yields its URL."""
    port = free_port()
    log = open(log_path, "w")
    process = subprocess.Popen(
        [str(part).format(port=port) for part in command],
        cwd=cwd,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the app did not start: {log_path.read_text()[-2000:]}") from None
                time.sleep(0.25)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)  # the command and the streamlit server it started
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


@pytest.fixture
def server(dataset, tmp_path):
    """``atdkit annotate DATASET --port N`` running until the test ends; yields its URL."""
    command = [sys.executable, "-m", "atdkit", "annotate", dataset, "--port", "{port}"]
    with serving(command, REPO, tmp_path / "server.log") as url:
        yield url


@pytest.fixture
def browser():
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent (Debian's chromium package; .ci/run installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def shown_triplet(page) -> str:
    heading = page.get_by_role("heading", name="Triplet")
    heading.wait_for()
    return heading.inner_text().split()[-1]


def settled(page) -> None:
    """Wait until the page's current run has drawn everything (Streamlit marks older elements stale meanwhile)."""
    page.wait_for_function("() => !document.querySelector('[data-stale=true]')")


def snapshot(page, name: str) -> None:
    """A full-page screenshot under test-artifacts/, once every image has loaded."""
    settled(page)
    page.wait_for_function("() => [...document.images].every(i => i.complete && i.naturalWidth > 0)")
    page.screenshot(path=ARTIFACTS / name, full_page=True)


def wait_for_triplet_change(page, previous: str) -> str:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function(
            "(old) => { const h = [...document.querySelectorAll('h3')].find(e => e.innerText.startsWith('Triplet'));"
            " return h && !h.innerText.endsWith(old); }",
            arg=previous,
        )
    except PlaywrightTimeout:
        shown = page.locator("[data-testid=stAlert], [data-testid=stException]").all_inner_texts()
        raise AssertionError(f"still on {previous} after 30 s; the page says {shown}") from None
    settled(page)
    return shown_triplet(page)


def press(page, key: str, chosen_key: str) -> None:
    """Press a keyboard shortcut once the page shows the button it triggers, and wait for its effect."""
    page.locator(f".st-key-{chosen_key} button").wait_for()
    settled(page)
    page.keyboard.press(key)
    chosen(page, chosen_key)


def chosen(page, key: str) -> None:
    """Wait until the choice button with Streamlit key ``key`` shows as chosen, in a finished page run."""
    page.locator(f".st-key-{key}[data-stale=false] button[kind=primary]").wait_for()
    settled(page)


def choose(page, key: str) -> None:
    settled(page)
    page.locator(f".st-key-{key} button").click()
    chosen(page, key)


def roi_field(page, name: str):
    return page.get_by_label(f"RoI {name}", exact=True).and_(page.locator("input"))


def typed_box(page) -> list[str]:
    return [roi_field(page, name).input_value() for name in ("x", "y", "width", "height")]


def test_two_annotators_label_in_real_browsers_then_consolidate(server, browser, dataset):
    ARTIFACTS.mkdir(exist_ok=True)
    width, height = (lambda t: (t["width"][0].as_py(), t["height"][0].as_py()))(
        read_table(dataset / "triplets.parquet", schema.TRIPLETS)
    )
    scale = width / CANVAS_WIDTH

    # --- alice signs in on the form, uses the keyboard and draws the box with the mouse
    alice = browser.new_context(viewport={"width": 1600, "height": 1300}).new_page()
    alice.goto(server)
    alice.get_by_label("Your name").fill("alice")
    alice.get_by_role("button", name="Start").click()
    first = shown_triplet(alice)
    assert "annotator=alice" in alice.url and f"triplet={first}" in alice.url
    press(alice, "y", "label_eligible_yes")
    press(alice, "2", "label_difficulty_medium")
    canvas = alice.locator("canvas").last.bounding_box()
    assert round(canvas["width"]) == CANVAS_WIDTH
    start, end = (60, 30), (260, 150)  # canvas pixels
    alice.mouse.move(canvas["x"] + start[0], canvas["y"] + start[1])
    alice.mouse.down()
    alice.mouse.move(canvas["x"] + end[0], canvas["y"] + end[1], steps=10)
    alice.mouse.up()
    drawn = (start[0] * scale, start[1] * scale, (end[0] - start[0]) * scale, (end[1] - start[1]) * scale)
    alice.wait_for_function(
        "() => ['x', 'y', 'width', 'height'].every(name =>"
        " document.querySelector(`input[aria-label=\"RoI ${name}\"]`).value !== '')"
    )  # filled one by one
    assert typed_box(alice) == [f"{v:.0f}" for v in drawn]
    alice.get_by_role("button", name="translation").click()
    snapshot(alice, "annotation_label_page.png")
    alice.evaluate("document.activeElement.blur()")  # Enter on a focused button would press that button
    alice.keyboard.press("Enter")
    second = wait_for_triplet_change(alice, first)
    # the second triplet: eligible for alice too
    press(alice, "y", "label_eligible_yes")
    press(alice, "3", "label_difficulty_hard")
    alice.keyboard.press("Enter")
    wait_for_triplet_change(alice, second)

    # --- bob, in another browser context, resumes from the URL and types his box
    bob = browser.new_context(viewport={"width": 1600, "height": 1300}).new_page()
    bob.goto(f"{server}/?annotator=bob")
    assert shown_triplet(bob) == first  # pairs are completed first
    settled(bob)
    assert typed_box(bob) == ["", "", "", ""]  # nothing of alice's answer shows
    choose(bob, "label_eligible_yes")
    choose(bob, "label_difficulty_medium")
    typed = (
        round(drawn[0]) + 2,
        round(drawn[1]) + 1,
        round(drawn[2]) - 3,
        round(drawn[3]) + 2,
    )  # digits typed: no shortcut fires
    for name, value in zip(("x", "y", "width", "height"), typed):
        field = roi_field(bob, name)
        field.fill(str(value))
        field.press("Enter")
        bob.wait_for_function(
            '([n, v]) => document.querySelector(`input[aria-label="RoI ${n}"]`).value === v', arg=[name, str(value)]
        )
        settled(bob)  # the run the typed value started has finished, as a person would see before going on
    bob.locator(".st-key-label_submit button").click()
    assert wait_for_triplet_change(bob, first) == second
    choose(bob, "label_eligible_no")
    bob.get_by_label("Why not eligible?").click()
    bob.get_by_role("option", name="scene transition").click()
    bob.wait_for_function(
        "() => document.querySelector('[class*=st-key-label_reason] input').value === 'scene transition'"
    )
    bob.locator(".st-key-label_submit button").click()
    wait_for_triplet_change(bob, second)

    # --- the other pages, as a reviewer would see them
    bob.get_by_role("link", name="Adjudicate").click()
    bob.get_by_text("0 triplet(s) need review").wait_for()
    bob.get_by_text("Show every labelled triplet").click()  # nothing to settle: look at one anyway
    bob.get_by_text("annotators' boxes: alice red, bob green").wait_for()
    snapshot(bob, "annotation_adjudicate_page.png")
    bob.get_by_role("link", name="Dashboard").click()
    bob.locator("[data-testid=stDataFrame]").nth(1).wait_for()
    bob.wait_for_timeout(500)  # the tables draw on a canvas after they appear
    snapshot(bob, "annotation_dashboard_page.png")

    # --- what was stored, then consolidated
    stored = {(r["annotator"], r["triplet_id"]): r for r in annotations.read_all(dataset)[0].to_pylist()}
    assert set(stored) == {("alice", first), ("alice", second), ("bob", first), ("bob", second)}
    mouse = stored[("alice", first)]
    assert (mouse["difficulty"], mouse["general_motion"]) == ("medium", ["translation"])
    assert [mouse[k] for k in ("roi_x", "roi_y", "roi_w", "roi_h")] == pytest.approx(drawn, abs=scale + 0.01)
    assert [stored[("bob", first)][k] for k in ("roi_x", "roi_y", "roi_w", "roi_h")] == list(typed)
    assert stored[("bob", first)]["difficulty"] == "medium"
    assert (stored[("bob", second)]["eligible"], stored[("bob", second)]["reason"]) == (False, "scene transition")

    result = run_atdkit("consolidate", dataset)
    assert result.returncode == 0, result.stderr
    labels = {r["triplet_id"]: r for r in read_table(dataset / "labels.parquet", schema.LABELS).to_pylist()}
    assert labels[first]["kept"] and not labels[second]["kept"]  # kept only where both said eligible
    assert (labels[second]["n_labels"], labels[second]["n_eligible"]) == (2, 1)
    expected = [(a + b) / 2 for a, b in zip([mouse[k] for k in ("roi_x", "roi_y", "roi_w", "roi_h")], typed)]
    assert [labels[first][k] for k in ("roi_x", "roi_y", "roi_w", "roi_h")] == pytest.approx(expected)
    assert labels[first]["difficulty"] == "medium" and labels[first]["roi_x"] + labels[first]["roi_w"] <= width


@pytest.mark.parametrize("where", ["clone", "installed"])
def test_streamlit_run_annotation_ui_serves_the_app(where, dataset, browser, installed_atdkit, tmp_path):
    """``streamlit run annotation_ui`` from a clone's root, and the app of a plain (non-editable)
    install run by path."""
    if where == "clone":
        python, app, cwd, env = sys.executable, "annotation_ui", REPO, None
    else:
        python, app, cwd, env = (
            installed_atdkit.python,
            installed_atdkit.package / "annotation_ui",
            tmp_path,
            installed_atdkit.env,
        )
    command = [
        python,
        "-m",
        "streamlit",
        "run",
        app,
        "--server.port",
        "{port}",
        "--server.headless",
        "true",
        "--server.address",
        "127.0.0.1",
        "--browser.gatherUsageStats",
        "false",
        "--",
        "--dataset",
        dataset,
    ]
    with serving(command, cwd, tmp_path / "server.log", env) as url:
        page = browser.new_context().new_page()
        page.goto(url)
        page.get_by_label("Your name").fill("alice")
        page.get_by_role("button", name="Start").click()
        assert shown_triplet(page) in {
            row["triplet_id"] for row in read_table(dataset / "triplets.parquet", schema.TRIPLETS).to_pylist()
        }
        assert not page.locator("[data-testid=stException]").count()


def test_with_access_tokens_a_real_browser_needs_its_own_link(dataset, browser, tmp_path):
    issued = run_atdkit("annotate", dataset, "--issue-token", "alice")
    assert issued.returncode == 0, issued.stderr
    token = issued.stdout.strip().split("token=")[1]
    command = [sys.executable, "-m", "atdkit", "annotate", dataset, "--port", "{port}"]
    with serving(command, REPO, tmp_path / "server.log") as url:
        page = browser.new_context(viewport={"width": 1600, "height": 1300}).new_page()
        for refused in (f"?token=x{token}", "?annotator=alice"):  # an unknown token; a name alone
            page.goto(f"{url}/{refused}")
            page.get_by_text("This app admits team members only").wait_for()
            settled(page)
            assert page.get_by_role("heading", name="Triplet").count() == 0
        page.goto(f"{url}/?token={token}")
        assert shown_triplet(page)
        page.get_by_text("Signed in as alice (annotator)").wait_for()
        assert page.get_by_role("link", name="Adjudicate").count() == 0
