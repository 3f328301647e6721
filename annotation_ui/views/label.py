"""Labelling page: one triplet at a time from the annotator's queue; Previous/Next walk their history."""

import streamlit as st

from atdkit.annotation_ui import app_state, assignment
from atdkit.annotation_ui.label_form import LabelForm
from atdkit.annotation_ui.triplet_view import describe, show_frames, show_loop
from atdkit.pipelines.extraction.flags import FLAGS
from atdkit.pipelines.labels.annotations import ANNOTATIONS

settings, context = app_state.context()
person = st.session_state["person"]
catalog = context.catalog()
log = context.log()
labelled_by = assignment.labellers(log.pairs)
todo = assignment.queue(catalog.ids, labelled_by, person, settings.labels_per_triplet)
done = assignment.history(log.pairs, person)


def go(triplet_id: str | None) -> None:
    st.session_state["label_current"] = triplet_id
    st.session_state["label_error"] = None


def submit(form: LabelForm, triplet_id: str, following: str | None) -> None:
    if form.save(context, ANNOTATIONS, person):
        st.session_state["label_saved"] = triplet_id
        go(following)


# The current triplet: this session's, else the one in the URL (checked against the dataset), else the queue's head.
current = st.session_state.get("label_current")
if current is None and "triplet" in st.query_params and "label_started" not in st.session_state:
    wanted = st.query_params["triplet"]
    if wanted in catalog.rows:
        current = wanted
    else:
        st.warning(f"The triplet in the URL ({wanted[:80]!r}) is not in this dataset; showing your next one.")
st.session_state["label_started"] = True
if current not in catalog.rows:
    current = context.leases.take(person, todo)  # not the triplet another annotator was just given
st.session_state["label_current"] = current

st.sidebar.metric("Labelled by you", f"{len(done)} / {len(catalog.ids)}")
st.sidebar.caption(
    "Keys: **Y** eligible · **N** not eligible · **1 2 3** difficulty · **Enter** submit · "
    "**←** previous · **→** next (not while typing in a field)"
)
if st.session_state.get("label_saved"):
    st.toast(f"Saved {st.session_state.pop('label_saved')}")

if current is None:
    st.query_params.pop("triplet", None)
    st.success(f"Nothing left to label: you labelled all {len(done)} triplets of your queue.")
    if done:
        st.button("Previous", key="label_previous", on_click=go, args=(done[-1],), shortcut="Left")
    st.stop()

st.query_params["triplet"] = current
sequence = done + [t for t in todo if t not in done]
position = sequence.index(current)
previous = sequence[position - 1] if position > 0 else None
following = sequence[position + 1] if position + 1 < len(sequence) else None
editing = current in done
if not editing:
    following = None  # after submitting a new label: the head of the queue as it is then

row = catalog.rows[current]
images = context.images.get(context.frames_dir(current))
form = LabelForm("label_", (row["width"] or images.source_size[0], row["height"] or images.source_size[1]), current)
flags = tuple(row.get("flags") or ())
if not form.loaded:
    form.load(
        context.answer(person, current) if editing else None,
        difficulty=context.suggestions().get(current),
        flags=flags,
    )

status = "your label (change it and submit again)" if editing else f"{len(todo)} left in your queue"
st.subheader(f"Triplet `{current}`")
st.caption(f"{status} · {describe(row)}")
if flags:
    st.warning("Pre-screening flagged " + "; ".join(f"**{flag}**: {FLAGS.get(flag, flag)}" for flag in flags))
show_frames(images)
left, right = st.columns([3, 2], gap="medium")
with left:
    st.space("small")  # room for the canvas toolbar
    form.render_roi(images.frames[1])
    buttons = st.columns(3)
    buttons[0].button(
        "Previous",
        key="label_previous",
        on_click=go,
        args=(previous,),
        disabled=previous is None,
        width="stretch",
        shortcut="Left",
    )
    buttons[1].button(
        "Submit",
        key="label_submit",
        type="primary",
        on_click=submit,
        args=(form, current, following),
        width="stretch",
        shortcut="Enter",
    )
    buttons[2].button(
        "Next" if editing else "Skip",
        key="label_next",
        on_click=go,
        args=(sequence[position + 1] if position + 1 < len(sequence) else None,),
        disabled=position + 1 >= len(sequence),
        width="stretch",
        shortcut="Right",
    )
    if st.session_state.get("label_error"):
        st.error(st.session_state["label_error"])
with right:
    show_loop(images)
    form.render_fields(shortcuts=True)
context.images.prefetch(
    [context.frames_dir(t) for t in todo[:3] if t != current] + ([context.frames_dir(following)] if following else [])
)
