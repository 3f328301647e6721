"""Annotation as a team: access tokens (stored as hashes, one per person, with a role), the Adjudicate page for
reviewers only, no serving beyond this machine without tokens, and leases that keep two annotators off the same
triplet at the same moment. The real browser's refusal of an unknown token is in test_annotation_browser.py."""

from __future__ import annotations

import sys

import pytest

from atdkit.annotation_ui.assignment import LEASE_SECONDS, Leases
from atdkit.store import Dataset
from helpers import run_cli
from helpers import start_app as start


@pytest.fixture(autouse=True)
def _restore_argv_and_main(monkeypatch):
    monkeypatch.setattr(sys, "argv", list(sys.argv))
    monkeypatch.setitem(sys.modules, "__main__", sys.modules["__main__"])


def issue(dataset, name: str, *role: str) -> str:
    ran = run_cli("annotate", dataset, "--issue-token", name, *role)
    assert ran.returncode == 0, ran.stderr
    link = ran.stdout.strip()
    assert link.startswith("http://127.0.0.1:8501/?token=")
    return link.split("token=")[1]


def shown_triplet(app) -> str | None:
    titles = [s.value for s in app.subheader if s.value.startswith("Triplet")]
    return titles[0].split("`")[1] if titles else None


def test_serving_beyond_this_machine_needs_tokens(dataset):
    ran = run_cli("annotate", dataset, "--host", "0.0.0.0")
    assert ran.returncode == 2 and ran.stderr.count("\n") == 1
    assert "refusing to serve on 0.0.0.0" in ran.stderr and "--issue-token NAME" in ran.stderr


def test_a_token_admits_its_holder_only_and_is_never_stored(dataset):
    token = issue(dataset, "alice")
    [row] = Dataset(dataset).rows("access_tokens")
    assert row["name"] == "alice" and row["role"] == "annotator" and token not in str(row)

    alice = start(dataset, None, token=token)
    assert shown_triplet(alice) and "Signed in as **alice** (annotator)" in alice.sidebar.markdown[0].value
    for wrong in ({"token": token[:-1] + ("A" if token[-1] != "A" else "B")}, {}, {"annotator": "alice"}):
        refused = start(dataset, None, **wrong)
        assert not shown_triplet(refused) and "team members only" in refused.error[0].value
        assert not refused.exception

    again = issue(dataset, "alice")  # a new token replaces the old one
    assert "unknown or was revoked" in start(dataset, None, token=token).error[0].value
    assert run_cli("annotate", dataset, "--revoke-token", "alice").returncode == 0
    assert "unknown or was revoked" in start(dataset, None, token=again).error[0].value


def test_only_reviewers_are_given_the_adjudicate_page(dataset):
    annotator, reviewer = issue(dataset, "alice"), issue(dataset, "rita", "--reviewer")
    alice = start(dataset, None, token=annotator)
    with pytest.raises(ValueError, match="Could not find a navigation page"):  # the page is not even registered
        alice.switch_page("views/adjudicate.py")
    rita = start(dataset, None, token=reviewer)
    rita.switch_page("views/adjudicate.py").run()
    assert [s.value for s in rita.subheader] == ["Adjudication"] and not rita.exception


def test_two_annotators_are_not_given_the_same_triplet_at_once(dataset, ids):
    alice, bob = start(dataset, "alice"), start(dataset, "bob")  # one app process: its sessions share the leases
    assert shown_triplet(alice) == ids[0] and shown_triplet(bob) == ids[1]

    leases = Leases()
    assert leases.take("alice", ids, now=0) == ids[0]
    assert leases.take("bob", ids, now=1) == ids[1]
    assert leases.take("alice", ids[1:], now=2) == ids[2]  # alice moved on: ids[0] is free again
    assert leases.take("carol", ids, now=3) == ids[0]
    assert leases.take("dave", ids[:2], now=4) == ids[0]  # everything taken: the queue's head all the same
    assert leases.take("erin", ids[1:2], now=1 + LEASE_SECONDS) == ids[1]  # bob's lease has run out
