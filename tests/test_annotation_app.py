"""The annotation app's pages, run by Streamlit's AppTest on a dataset written by ``atdkit extract``."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest

from atdkit import schema
from atdkit.annotation_ui.assignment import history, labellers, queue
from atdkit.pipelines.labels import annotations
from atdkit.pipelines.labels.consolidate import gather
from atdkit.store import Dataset, write_table
from helpers import APP, REPO, field, fill, submit, subprocess_env
from helpers import start_app as start


@pytest.fixture(autouse=True)
def _restore_argv_and_main(monkeypatch):
    """AppTest runs the app as ``__main__`` and it reads sys.argv: both are put back afterwards (a later test's
    process pool, started with spawn, would otherwise look for the app's script as its main module)."""
    monkeypatch.setattr(sys, "argv", list(sys.argv))
    monkeypatch.setitem(sys.modules, "__main__", sys.modules["__main__"])


def shown_triplet(app: AppTest) -> str:
    [title] = [s.value for s in app.subheader if s.value.startswith("Triplet")]
    return title.split("`")[1]


def rows(dataset: Path, kind: str = annotations.ANNOTATIONS) -> list[dict]:
    table, errors = annotations.read_all(dataset, kind)
    assert errors == []
    return table.to_pylist()


def test_bad_arguments_are_reported_on_the_page(dataset, tmp_path):
    sys.argv = ["streamlit_app.py"]
    app = AppTest.from_file(str(APP), default_timeout=60).run()
    assert "--dataset DATASET_DIR is required" in app.error[0].value
    app = start(tmp_path)
    assert "not an atdkit dataset" in app.error[0].value and not app.exception


def test_sign_in_is_asked_once_and_kept_in_the_url(dataset):
    app = start(dataset, None)
    assert not app.subheader
    app.text_input(key="sign_in_name").input("../../etc")
    app.button[0].click().run()
    assert "person name '../../etc'" in app.error[0].value and not app.subheader
    app.text_input(key="sign_in_name").input("alice")
    app.button[0].click().run()
    assert app.query_params["annotator"] == "alice" and shown_triplet(app)

    restricted = start(dataset, "mallory", "--annotators", "alice,bob")
    assert "not one of this app's annotators (alice, bob)" in restricted.error[0].value
    assert restricted.selectbox(key="sign_in_name").options == ["alice", "bob"]
    assert shown_triplet(start(dataset, "bob", "--annotators", "alice,bob"))


def test_labels_are_stored_at_once_and_an_answer_can_be_changed(dataset, ids):
    app = start(dataset)
    first = shown_triplet(app)
    assert first == ids[0] and app.query_params["triplet"] == first
    # a typed box is clamped to frame2 (320x180 here)
    fill(app, roi=(300, 100, 100, 50), motion=["translation"], behavior=["walking"])
    assert app.session_state["label_roi"] == (300.0, 100.0, 20.0, 50.0)
    submit(app)
    [row] = rows(dataset)
    assert (row["triplet_id"], row["annotator"], row["eligible"], row["difficulty"]) == (first, "alice", True, "medium")
    assert (row["roi_x"], row["roi_y"], row["roi_w"], row["roi_h"]) == (300, 100, 20, 50)
    assert (row["general_motion"], row["behavior"], row["reason"]) == (["translation"], ["walking"], None)
    second = shown_triplet(app)
    assert second != first and app.query_params["triplet"] == second

    app.button(key="label_previous").click().run()
    assert shown_triplet(app) == first
    assert app.session_state["label_difficulty"] == "medium"
    assert field(app.number_input, "RoI width").value == 20
    fill(app, difficulty="hard", roi=(0, 0, 50, 40))
    submit(app)
    assert shown_triplet(app) == second
    history_rows = [r for r in rows(dataset) if r["triplet_id"] == first]
    assert [r["difficulty"] for r in history_rows] == ["medium", "hard"]  # the history is kept, the latest wins
    assert gather(Dataset(dataset)).answers[0]["difficulty"] == "hard"

    resumed = start(dataset, triplet=second)  # a reload: same annotator and triplet from the URL
    assert shown_triplet(resumed) == second


def test_not_eligible_needs_a_reason_and_keeps_only_it(dataset):
    app = start(dataset)
    fill(app, roi=(10, 10, 20, 20), motion=["rotation"])
    fill(app, eligible="no")
    assert field(app.number_input, "RoI x").disabled and field(app.pills, "General motion").disabled
    submit(app)
    assert "needs a reason" in app.error[0].value and rows(dataset) == []
    fill(app, eligible="no", reason="simple or similar scene")
    submit(app)
    [row] = rows(dataset)
    assert (row["eligible"], row["reason"], row["difficulty"], row["roi_x"]) == (
        False,
        "simple or similar scene",
        None,
        None,
    )


def test_triplet_ids_from_the_url_are_checked(dataset, ids):
    app = start(dataset, triplet="../../../etc/passwd")
    assert "not in this dataset" in app.warning[0].value
    assert shown_triplet(app) == ids[0]
    assert shown_triplet(start(dataset, triplet=ids[3])) == ids[3]


def test_queue_completes_pairs_before_a_third_label():
    ids = ["t0", "t1", "t2", "t3"]
    done = [("t0", "ann"), ("t0", "ben"), ("t1", "ann")]
    by = labellers(done)
    assert queue(ids, by, "ben", 2) == ["t1", "t2", "t3"]  # t1 needs its second label first
    assert queue(ids, by, "cat", 2) == ["t1", "t2", "t3", "t0"]  # t0 has its two: last
    assert history(done, "ann") == ["t0", "t1"]


def test_annotators_do_not_see_each_others_answers(dataset, ids):
    alice = start(dataset, "alice")
    fill(alice, difficulty="hard", roi=(1, 1, 50, 50), motion=["rotation"])
    submit(alice)
    bob = start(dataset, "bob")
    assert shown_triplet(bob) == ids[0]  # the pair is completed first
    assert bob.session_state["label_eligible"] is None
    assert bob.session_state["label_difficulty"] is None
    assert field(bob.pills, "General motion").value == [] and bob.session_state["label_roi"] is None


def test_difficulty_is_prefilled_from_motion_statistics(dataset, ids):
    write_table(
        dataset / "motion.parquet",
        [
            {
                "triplet_id": ids[0],
                "flow_mean": 9.0,
                "flow_std": 1.0,
                "occlusion_ratio": 0.1,
                "suggested_difficulty": "hard",
            }
        ],
        schema.MOTION,
    )
    app = start(dataset)
    assert app.session_state["label_difficulty"] == "hard"
    fill(app, difficulty="easy")  # always overridable
    submit(app)
    assert rows(dataset)[0]["difficulty"] == "easy"
    assert app.session_state["label_difficulty"] is None  # no suggestion for the next triplet


def test_adjudication_settles_a_disagreement(dataset, ids):
    for person, difficulty in (("alice", "easy"), ("bob", "hard")):
        submit(fill(start(dataset, person), difficulty=difficulty, roi=(10, 10, 40, 40)))
    app = start(dataset, "rita")
    app.switch_page("views/adjudicate.py").run()
    assert not app.exception
    assert app.selectbox(key="review_pick").value == ids[0]
    assert "1 triplet(s) need review" in app.caption[0].value
    assert list(app.dataframe[0].value["annotator"]) == ["alice", "bob"]
    assert app.session_state["review_eligible"] == "yes"
    assert app.session_state["review_difficulty"] is None  # tied
    app.button(key="review_difficulty_medium").click().run()
    app.button(key="review_save").click().run()
    [review] = rows(dataset, annotations.REVIEWS)
    assert (review["annotator"], review["triplet_id"], review["difficulty"]) == ("rita", ids[0], "medium")
    assert (review["roi_x"], review["roi_w"]) == (10, 40)
    assert "No triplet needs review." in app.success[0].value
    label = gather(Dataset(dataset)).labels.to_pylist()[0]
    assert (label["difficulty"], label["needs_review"], label["kept"]) == ("medium", False, True)


def test_dashboard_shows_progress_and_agreement(dataset, ids):
    for person in ("alice", "bob"):
        app = start(dataset, person)
        for difficulty in ("easy", "hard"):
            submit(fill(app, difficulty=difficulty, roi=(0, 0, 100, 100)))
    app = start(dataset, "alice")
    app.switch_page("views/dashboard.py").run()
    assert not app.exception
    metrics = {m.label: m.value for m in app.metric}
    assert (
        metrics["Triplets"] == str(len(ids))
        and metrics["With 2+ labels"] == "2"
        and metrics["Kept (eligible by 2+)"] == "2"
    )
    people = app.dataframe[0].value
    assert list(people["annotator"]) == ["alice", "bob"] and list(people["triplets"]) == [2, 2]
    pair = app.dataframe[1].value.iloc[0]
    assert (
        pair["pair"] == "alice / bob"
        and pair["difficulty kappa (quadratic)"] == "1.000"
        and pair["mean IoU"] == "1.000"
    )


@pytest.mark.slow
def test_several_app_processes_label_at_once_without_losing_a_row(dataset):
    code = "import sys; from helpers import label_in_own_process as work; work(sys.argv[1], sys.argv[2], 8)"
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(dataset), person],
            cwd=REPO,
            env=subprocess_env(),
            stderr=subprocess.PIPE,
            text=True,
        )
        for person in ("alice", "bob", "alice")
    ]
    while any(w.poll() is None for w in workers):  # compacting meanwhile must not lose a row either
        annotations.compact(dataset)
        time.sleep(0.2)
    assert [w.wait() for w in workers] == [0, 0, 0], [w.stderr.read()[-2000:] for w in workers]
    table, errors = annotations.read_all(dataset)
    assert errors == [] and table.num_rows == 24
    assert sorted(table["annotator"].to_pylist()).count("alice") == 16
    assert all(r["difficulty"] == "medium" for r in table.to_pylist())
    annotations.compact(dataset)
    assert annotations.read_all(dataset)[0].num_rows == 24
    assert (
        pa.concat_tables(
            [annotations.read_part(p) for p in annotations.part_paths(dataset, annotations.ANNOTATIONS)]
        ).num_rows
        == 24
    )


def test_pre_screening_flags_are_shown_and_a_fade_is_prefilled_as_a_scene_transition(dataset, ids):
    dataset_ = Dataset(dataset)
    rows_ = dataset_.rows("triplets")
    rows_[0]["flags"], rows_[1]["flags"] = ["fade", "text_card"], ["text_card"]
    dataset_.write("triplets", rows_)
    app = start(dataset)
    assert shown_triplet(app) == ids[0]
    assert "**fade**: a fade or a dissolve" in app.warning[0].value and "**text_card**" in app.warning[0].value
    assert app.session_state["label_eligible"] == "no"
    assert field(app.selectbox, "Why not eligible?").value == "scene transition"
    fill(app)  # the annotator can change it
    submit(app)
    assert rows(dataset)[0]["eligible"] is True
    assert shown_triplet(app) == ids[1] and app.session_state["label_eligible"] is None  # only a fade pre-fills
    assert "**text_card**: a title or text card" in app.warning[0].value
