"""The label fields (eligible, reason, difficulty, RoI, tags), shared by the labelling and adjudication pages.

Every field keeps its value in session state under a page ``prefix``; eligibility and
difficulty are rows of buttons (so that they can carry Streamlit's keyboard shortcuts).
:meth:`LabelForm.load` fills the fields for a triplet before they are drawn,
:meth:`LabelForm.row` turns them into an ANNOTATIONS row.
"""

from __future__ import annotations

import streamlit as st

from atdkit import schema
from atdkit.annotation_ui.roi_box import RoiEditor
from atdkit.pipelines.labels.annotations import label_row
from atdkit.pipelines.labels.consolidate import box_of

ELIGIBLE, NOT_ELIGIBLE = "yes", "no"
CANVAS_WIDTHS = (400, 560, 720, 960)  # the sidebar's choice of RoI canvas width, to fit the screen
WIDGETS = ("reason", "general_motion", "behavior")  # fields that are Streamlit widgets


class LabelForm:
    """The fields of one page (``prefix``) for the triplet ``triplet_id``."""

    def __init__(self, prefix: str, image_size: tuple[int, int], triplet_id: str):
        self.prefix, self.triplet_id = prefix, triplet_id
        self.roi = RoiEditor(prefix, image_size)

    def key(self, name: str) -> str:
        """Session-state key of a field; the widgets' keys change with each :meth:`load`."""
        version = f"_{st.session_state.get(self.prefix + 'version', 0)}" if name in WIDGETS else ""
        return f"{self.prefix}{name}{version}"

    def value(self, name: str):
        return st.session_state.get(self.key(name))

    @property
    def loaded(self) -> bool:
        """Whether the fields hold this triplet's values (else :meth:`load` them first)."""
        return st.session_state.get(self.prefix + "form_for") == self.triplet_id

    def load(self, answer: dict | None, difficulty: str | None = None, flags: tuple[str, ...] = ()) -> None:
        """Fill the fields from ``answer`` (a label row), or empty them with ``difficulty`` pre-set (and, for a
        triplet the extraction flagged as a ``fade``, "not eligible: scene transition").

        The widgets get new keys, so that values a browser still holds for the previous
        triplet's widgets are never taken for this one's.
        """
        answer = answer or {}
        st.session_state[self.prefix + "version"] = st.session_state.get(self.prefix + "version", 0) + 1
        transition = not answer and "fade" in flags
        eligible = False if transition else answer.get("eligible")
        st.session_state[self.key("eligible")] = None if eligible is None else (ELIGIBLE if eligible else NOT_ELIGIBLE)
        st.session_state[self.key("reason")] = "scene transition" if transition else answer.get("reason")
        st.session_state[self.key("difficulty")] = answer.get("difficulty") or difficulty
        st.session_state[self.key("general_motion")] = list(answer.get("general_motion") or [])
        st.session_state[self.key("behavior")] = list(answer.get("behavior") or [])
        self.roi.reset(box_of(answer) if answer else None)
        st.session_state[self.prefix + "form_for"] = self.triplet_id

    def save(self, context, kind: str, person: str) -> bool:
        """Write the fields as ``person``'s part of ``kind``; False (the reason in ``<prefix>error``)
        when not saved, also for a click on a triplet left since."""
        if not self.loaded:
            return False
        try:
            context.write(kind, person, self.row(self.triplet_id, person))
        except (ValueError, OSError) as error:
            st.session_state[self.prefix + "error"] = f"Not saved: {error}"
            return False
        st.session_state[self.prefix + "error"] = None
        return True

    @property
    def not_eligible(self) -> bool:
        return self.value("eligible") == NOT_ELIGIBLE

    def render_roi(self, background_jpeg: bytes) -> None:
        self.roi.render(
            background_jpeg, st.session_state.get("canvas_width", CANVAS_WIDTHS[1]), disabled=self.not_eligible
        )

    def _choose(self, name: str, option: str, triplet_id: str) -> None:
        if st.session_state.get(self.prefix + "form_for") == triplet_id:  # not a click on a triplet left since
            st.session_state[self.key(name)] = option

    def _choice(
        self, label: str, name: str, options: dict[str, str], keys: tuple[str, ...] | None, disabled: bool = False
    ) -> None:
        """One button per option, the chosen one highlighted; ``keys``: a keyboard shortcut per option."""
        st.markdown(label)
        with st.container(horizontal=True, gap="small"):
            for number, (option, text) in enumerate(options.items()):
                st.button(
                    text,
                    key=self.key(f"{name}_{option}"),
                    on_click=self._choose,
                    args=(name, option, self.triplet_id),
                    disabled=disabled,
                    type="primary" if self.value(name) == option else "secondary",
                    shortcut=keys[number] if keys else None,
                )

    def render_fields(self, shortcuts: bool = False) -> None:
        """The choice widgets; ``shortcuts``: Y / N for eligibility, 1 / 2 / 3 for difficulty."""
        self._choice(
            "Eligible for the dataset?",
            "eligible",
            {ELIGIBLE: "Eligible", NOT_ELIGIBLE: "Not eligible"},
            ("Y", "N") if shortcuts else None,
        )
        st.selectbox(
            "Why not eligible?",
            schema.INELIGIBLE_REASONS,
            key=self.key("reason"),
            index=None,
            placeholder="choose a reason",
            disabled=not self.not_eligible,
        )
        self._choice(
            "Difficulty",
            "difficulty",
            {d: d.capitalize() for d in schema.DIFFICULTIES},
            ("1", "2", "3") if shortcuts else None,
            disabled=self.not_eligible,
        )
        st.pills(
            "General motion",
            schema.GENERAL_MOTIONS,
            selection_mode="multi",
            key=self.key("general_motion"),
            disabled=self.not_eligible,
        )
        st.pills(
            "Character behaviour",
            schema.BEHAVIORS,
            selection_mode="multi",
            key=self.key("behavior"),
            disabled=self.not_eligible,
        )

    def row(self, triplet_id: str, person: str) -> dict:
        """The ANNOTATIONS row of the fields; ValueError with what is missing or wrong."""
        eligible = self.value("eligible")
        if eligible is None:
            raise ValueError("choose Eligible or Not eligible first")
        if eligible == ELIGIBLE and not self.value("difficulty"):
            raise ValueError("choose a difficulty for an eligible triplet")
        return label_row(
            triplet_id,
            person,
            eligible == ELIGIBLE,
            reason=self.value("reason"),
            difficulty=self.value("difficulty"),
            roi=self.roi.box,
            general_motion=self.value("general_motion") or (),
            behavior=self.value("behavior") or (),
        )
