"""What every page shares: the settings, the dataset (one per app process) and who is working.

:class:`DatasetContext` is shared by all browser sessions of a process (Streamlit runs each
session on its own thread): it reads the tables once, re-reads them when their files change,
and reads each annotation part once (:class:`atdkit.pipelines.labels.annotations.PartIndex`).
"""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import streamlit as st

from atdkit import schema
from atdkit.annotation_ui import assignment
from atdkit.annotation_ui.images import DisplayCache
from atdkit.annotation_ui.label_form import CANVAS_WIDTHS
from atdkit.annotation_ui.settings import Settings, SettingsError, parse
from atdkit.pipelines.labels import access, annotations, consolidate
from atdkit.store import Dataset, read_table


@dataclass(frozen=True)
class Catalog:
    ids: list[str]  # dataset order
    rows: dict[str, dict]  # TRIPLETS rows by id


@dataclass(frozen=True)
class AnswerLog:
    table: pa.Table  # ANNOTATIONS rows in time order
    pairs: list[tuple[str, str]]  # (triplet_id, annotator) per row


class DatasetContext:
    """One dataset's tables, annotation parts and display images, shared by the sessions of a process."""

    def __init__(self, root: Path):
        self.dataset = Dataset(root)
        self.images = DisplayCache()
        self._lock = threading.Lock()
        self._indexes = {kind: annotations.PartIndex(root, kind) for kind in annotations.KINDS}
        self._logs: dict[str, AnswerLog] = {}
        self._files: dict[str, tuple[tuple[int, int] | None, object]] = {}
        self.leases = assignment.Leases()  # shared by this process's sessions

    def _table_cached(self, path: Path, load):
        """``load(path)``, re-run only when the file's mtime or size changed (or it appeared/vanished)."""
        try:
            stat = path.stat()
            stamp = (stat.st_mtime_ns, stat.st_size)
        except FileNotFoundError:
            stamp = None
        with self._lock:
            cached = self._files.get(str(path))
            if cached is None or cached[0] != stamp:
                cached = (stamp, load(path) if stamp else None)
                self._files[str(path)] = cached
            return cached[1]

    def catalog(self) -> Catalog:
        def load(path: Path) -> Catalog:
            rows = read_table(path, schema.TRIPLETS).to_pylist()
            return Catalog([r["triplet_id"] for r in rows], {r["triplet_id"]: r for r in rows})

        return self._table_cached(self.dataset.table_path("triplets"), load) or Catalog([], {})

    def suggestions(self) -> dict[str, str]:
        """Suggested difficulty per triplet from ``motion.parquet`` (empty when the dataset has none)."""

        def load(path: Path) -> dict[str, str]:
            table = read_table(path, schema.MOTION).select(["triplet_id", "suggested_difficulty"]).to_pylist()
            return {
                r["triplet_id"]: r["suggested_difficulty"]
                for r in table
                if r["suggested_difficulty"] in schema.DIFFICULTIES
            }

        return self._table_cached(self.dataset.table_path("motion"), load) or {}

    def access_tokens(self) -> list[dict] | None:
        """The issued ACCESS_TOKENS rows; None when none were ever issued (the app is open to any name)."""
        return self._table_cached(
            self.dataset.table_path("access_tokens"), lambda path: read_table(path, schema.ACCESS_TOKENS).to_pylist()
        )

    def log(self, kind: str = annotations.ANNOTATIONS) -> AnswerLog:
        """Every row of ``kind`` written so far, by any process (new parts are read on each call)."""
        with self._lock:
            table = self._indexes[kind].refresh()
            log = self._logs.get(kind)
            if log is None or log.table is not table:
                log = AnswerLog(table, list(zip(table["triplet_id"].to_pylist(), table["annotator"].to_pylist())))
                self._logs[kind] = log
            return log

    def answer(self, person: str, triplet_id: str, kind: str = annotations.ANNOTATIONS) -> dict | None:
        """``person``'s latest row for ``triplet_id``, or None."""
        table = self.log(kind).table
        mine = table.filter(pc.and_(pc.equal(table["triplet_id"], triplet_id), pc.equal(table["annotator"], person)))
        return mine.slice(mine.num_rows - 1).to_pylist()[0] if mine.num_rows else None

    def part_errors(self) -> list[str]:
        with self._lock:
            return [line for index in self._indexes.values() for line in index.errors.values()]

    def consolidation(self) -> consolidate.Consolidation:
        catalog = self.catalog()
        return consolidate.consolidate_tables(set(catalog.ids), self.log().table, self.log(annotations.REVIEWS).table)

    def frames_dir(self, triplet_id: str) -> Path:
        """The triplet's folder; KeyError for an id that is not in triplets.parquet (never a path from outside)."""
        if triplet_id not in self.catalog().rows:
            raise KeyError(triplet_id)
        return self.dataset.triplet_dir(triplet_id)

    def write(self, kind: str, person: str, row: dict) -> Path:
        if row["triplet_id"] not in self.catalog().rows:
            raise KeyError(row["triplet_id"])
        return annotations.write_part(self.dataset.root, kind, person, [row])


@st.cache_resource(show_spinner=False)
def _context(root: str) -> DatasetContext:
    return DatasetContext(Path(root))


def settings() -> Settings:
    """The app's settings from its command line, or an error on the page and a stop."""
    try:
        return parse(sys.argv[1:])
    except SettingsError as error:
        st.error(
            f"annotation app: {error}. Start it as `streamlit run annotation_ui -- --dataset DATASET_DIR` "
            "or `atdkit annotate DATASET_DIR`."
        )
        st.stop()


def context() -> tuple[Settings, DatasetContext]:
    current = settings()
    return current, _context(str(current.dataset))


def name_problem(name: str, current: Settings) -> str | None:
    try:
        annotations.check_name(name)
    except ValueError as error:
        return str(error)
    if current.annotators and name not in current.annotators:
        return f"{name!r} is not one of this app's annotators ({', '.join(current.annotators)})"
    return None


def _sign_in(current: Settings) -> None:
    name = (st.session_state.get("sign_in_name") or "").strip()
    problem = name_problem(name, current)
    st.session_state["sign_in_problem"] = problem
    if problem is None:
        st.session_state["person"] = name


def _sign_out() -> None:
    for key in list(st.session_state):
        del st.session_state[key]
    st.query_params.clear()


def _token_holder(current: Settings, issued: list[dict]) -> access.Person:
    """The holder of the URL's ``?token=``, or an error page and a stop."""
    token = st.query_params.get("token", "")
    person = access.holder(issued, token) if token else None
    if person is None or name_problem(person.name, current):
        st.title("atdkit annotation")
        st.error(
            "This app admits team members only: open it with your own link (atdkit annotate DATASET "
            "--issue-token NAME prints one)." + (" The token in this link is unknown or was revoked." if token else "")
        )
        st.stop()
    return person


def identify(current: Settings) -> access.Person:
    """Who is working. When access tokens were issued: the holder of the URL's token, with their role. Otherwise
    anyone, by name, kept in the session and in the URL (``?annotator=``), asked for once; all may adjudicate."""
    issued = _context(str(current.dataset)).access_tokens()
    if issued is not None:
        person = _token_holder(current, issued)
        st.session_state["person"] = person.name
        _sidebar(f"Signed in as **{person.name}** ({person.role})")
        return person
    person = st.session_state.get("person")
    if person is None and "annotator" in st.query_params:
        problem = name_problem(st.query_params["annotator"], current)
        if problem:
            st.session_state["sign_in_problem"] = f"name in the URL refused: {problem}"
            del st.query_params["annotator"]
        else:
            person = st.session_state["person"] = st.query_params["annotator"]
    if person is None:
        st.title("atdkit annotation")
        st.caption(f"Dataset: {current.dataset}")
        with st.form("sign_in"):
            if current.annotators:
                st.selectbox("Your name", current.annotators, key="sign_in_name", index=None)
            else:
                st.text_input(
                    "Your name", key="sign_in_name", max_chars=64, placeholder="letters, digits, '.', '_', '-'"
                )
            st.form_submit_button("Start", on_click=_sign_in, args=(current,), type="primary")
        if st.session_state.get("sign_in_problem"):
            st.error(st.session_state["sign_in_problem"])
        st.stop()
    st.query_params["annotator"] = person
    _sidebar(f"Signed in as **{person}**")
    return access.Person(person, "reviewer")


def _sidebar(signed_in: str) -> None:
    st.sidebar.markdown(signed_in)
    st.sidebar.button("Sign out", on_click=_sign_out, key="sign_out")
    st.sidebar.select_slider(
        "RoI canvas width",
        CANVAS_WIDTHS,
        value=CANVAS_WIDTHS[1],
        key="canvas_width",
        help="pixels on screen; the box is stored in frame 2's pixels",
    )
