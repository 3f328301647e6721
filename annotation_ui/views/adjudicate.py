"""Adjudication page: a reviewer sees every annotator's answer and sets the final values.

The final values are saved as a review part (``reviews/<reviewer>/``), which consolidation
prefers over the annotators' labels.
"""

from collections import Counter

import cv2
import numpy as np
import pandas as pd
import streamlit as st

from atdkit.annotation_ui import app_state
from atdkit.annotation_ui.label_form import LabelForm
from atdkit.annotation_ui.triplet_view import describe, show_frames
from atdkit.pipelines.labels.annotations import REVIEWS
from atdkit.pipelines.labels.consolidate import BOX, box_of

COLOURS = (
    ("red", (230, 25, 75)),
    ("green", (60, 180, 75)),
    ("blue", (0, 130, 200)),
    ("orange", (245, 130, 48)),
    ("purple", (145, 30, 180)),
    ("cyan", (70, 240, 240)),
)

settings, context = app_state.context()
person = st.session_state["person"]
result = context.consolidation()
labels = {row["triplet_id"]: row for row in result.labels.to_pylist()}
pending = [t for t, row in labels.items() if row["needs_review"]]

st.subheader("Adjudication")
st.caption(
    f"{len(pending)} triplet(s) need review: the annotators' difficulty tied or their boxes overlap "
    "with IoU < 0.5. Your values are final for the triplet."
)
show_all = st.toggle("Show every labelled triplet", key="review_all")
options = sorted(labels) if show_all else pending
if not options:
    st.success("No triplet needs review.")
    st.stop()
if st.session_state.get("review_pick") not in options:
    wanted = st.query_params.get("triplet")
    st.session_state["review_pick"] = wanted if wanted in options else options[0]
current = st.selectbox("Triplet", options, key="review_pick")
st.query_params["triplet"] = current


def save(form: LabelForm, triplet_id: str) -> None:
    if form.save(context, REVIEWS, person):
        st.session_state["review_saved"] = triplet_id
        st.session_state["review_form_for"] = None  # reload from the new consolidation


def with_boxes(jpeg: bytes, boxes: list[tuple[int, tuple]], scale: float) -> np.ndarray:
    """The display image with each (colour index, box in frame pixels) drawn on it."""
    image = cv2.cvtColor(cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    for index, (x, y, w, h) in boxes:
        corner, end = (round(x / scale), round(y / scale)), (round((x + w) / scale), round((y + h) / scale))
        cv2.rectangle(image, corner, end, COLOURS[index % len(COLOURS)][1], 2)
    return image


row = context.catalog().rows[current]
images = context.images.get(context.frames_dir(current))
size = (row["width"] or images.source_size[0], row["height"] or images.source_size[1])
answers = sorted((a for a in result.answers if a["triplet_id"] == current), key=lambda a: a["annotator"])
form = LabelForm("review_", size, current)
if not form.loaded:
    final = labels[current]
    reasons = Counter(a["reason"] for a in answers if a["reason"]).most_common(1)
    form.load({**final, "eligible": final["kept"], "reason": reasons[0][0] if reasons else None})
if st.session_state.get("review_saved"):
    st.toast(f"Final values saved for {st.session_state.pop('review_saved')}")

st.caption(describe(row))
show_frames(images)
table = pd.DataFrame(
    [
        {
            "annotator": a["annotator"],
            "eligible": a["eligible"],
            "reason": a["reason"],
            "difficulty": a["difficulty"],
            **{k: a[k] for k in BOX},
            "general motion": ", ".join(a["general_motion"]),
            "behaviour": ", ".join(a["behavior"]),
            "labelled at": a["created_at"],
        }
        for a in answers
    ]
)
st.dataframe(table, hide_index=True, width="stretch")
left, right = st.columns([3, 2], gap="medium")
with left:
    st.space("small")  # room for the canvas toolbar
    form.render_roi(images.frames[1])
with right:
    drawn = [(i, box_of(a)) for i, a in enumerate(answers) if box_of(a)]
    st.image(
        with_boxes(images.frames[1], drawn, size[0] / images.size[0]),
        width="stretch",
        caption="annotators' boxes: "
        + ", ".join(f"{answers[i]['annotator']} {COLOURS[i % len(COLOURS)][0]}" for i, _ in drawn),
    )
    form.render_fields()
    st.button("Save final values", key="review_save", type="primary", on_click=save, args=(form, current))
    if st.session_state.get("review_error"):
        st.error(st.session_state["review_error"])
