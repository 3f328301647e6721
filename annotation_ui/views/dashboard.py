"""Dashboard page: labelling progress per annotator and their agreement, read live from the parts."""

import math

import pandas as pd
import streamlit as st

from atdkit.annotation_ui import app_state
from atdkit.annotation_ui.assignment import labellers

settings, context = app_state.context()
catalog = context.catalog()
log = context.log()
result = context.consolidation()
labels = result.labels.to_pylist()
counts = {t: len(who) for t, who in labellers(log.pairs).items()}
total = len(catalog.ids)

st.subheader("Progress")
columns = st.columns(5)
columns[0].metric("Triplets", total)
columns[1].metric("Labelled at least once", sum(1 for t in catalog.ids if counts.get(t)))
columns[2].metric(
    f"With {settings.labels_per_triplet}+ labels",
    sum(1 for t in catalog.ids if counts.get(t, 0) >= settings.labels_per_triplet),
)
columns[3].metric("Kept (eligible by 2+)", sum(1 for row in labels if row["kept"]))
columns[4].metric("Need review", sum(1 for row in labels if row["needs_review"]))
if total:
    done = sum(1 for t in catalog.ids if counts.get(t, 0) >= settings.labels_per_triplet)
    st.progress(
        done / total, text=f"{done / total:.0%} of the triplets have their {settings.labels_per_triplet} labels"
    )

table = log.table.to_pandas()
if table.empty:
    st.info("No label yet.")
    st.stop()
per_person = (
    table.groupby("annotator")
    .agg(
        triplets=("triplet_id", "nunique"),
        submissions=("triplet_id", "size"),
        last_label=("created_at", "max"),
    )
    .reset_index()
)
per_person["share of dataset"] = (per_person["triplets"] / max(total, 1)).map("{:.1%}".format)
eligible = pd.DataFrame(result.answers, columns=["annotator", "eligible"]).groupby("annotator")["eligible"].mean()
per_person["called eligible"] = per_person["annotator"].map(eligible).map(lambda v: "n/a" if pd.isna(v) else f"{v:.0%}")
st.dataframe(per_person, hide_index=True, width="stretch")

st.subheader("Agreement per annotator pair")
st.caption(
    "Cohen's kappa for eligibility; quadratic-weighted kappa for difficulty (triplets both called eligible); "
    "RoI IoU on triplets both drew a box on. `atdkit consolidate` prints the same figures."
)


def figure(value: float, digits: int = 3) -> str:
    return "n/a" if math.isnan(value) else f"{value:.{digits}f}"


st.dataframe(
    pd.DataFrame(
        [
            {
                "pair": f"{p.first} / {p.second}",
                "shared triplets": p.shared,
                "eligibility kappa": figure(p.eligibility_kappa),
                "rated by both": p.difficulty_pairs,
                "difficulty kappa (quadratic)": figure(p.difficulty_kappa),
                "boxes by both": p.roi_pairs,
                "mean IoU": figure(p.mean_iou),
                "IoU >= 0.5": figure(p.share_iou_agreed * 100, 1) + "%"
                if not math.isnan(p.share_iou_agreed)
                else "n/a",
            }
            for p in result.agreement
        ]
    ),
    hide_index=True,
    width="stretch",
)
problems = context.part_errors() + result.errors
if problems:
    st.subheader("Parts or rows left out")
    for line in problems:
        st.error(line)
