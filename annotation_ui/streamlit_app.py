"""Entry point of ``streamlit run annotation_ui -- --dataset DATASET_DIR``: sign-in, then the pages (Adjudicate for
reviewers)."""

import streamlit as st

from atdkit.annotation_ui import app_state

st.set_page_config(page_title="atdkit annotation", layout="wide")
settings = app_state.settings()
person = app_state.identify(settings)
st.navigation(
    [
        st.Page("views/label.py", title="Label", icon=":material/label:", default=True),
        *([st.Page("views/adjudicate.py", title="Adjudicate", icon=":material/gavel:")] if person.reviewer else []),
        st.Page("views/dashboard.py", title="Dashboard", icon=":material/monitoring:"),
    ]
).run()
